import { GantryError } from '../../../domain/errors.js';
import { numberOf } from '../../../domain/number.js';

/** The console API's input checks: unknown fields and bad values are the caller's fault (400), never dropped. */
export function invalid(field: string, message: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', message, { field });
}

export function onlyFields(o: unknown, allowed: readonly string[], what: string): Record<string, unknown> {
  if (o === undefined || o === null) return {};
  if (typeof o !== 'object' || Array.isArray(o)) throw invalid(what, `The ${what} must be a JSON object.`);
  const rec = o as Record<string, unknown>;
  const unknown = Object.keys(rec).filter((k) => !allowed.includes(k));
  if (unknown.length > 0) throw invalid(unknown[0] as string, `Unknown ${what} field '${unknown[0]}'; allowed: ${allowed.join(', ')}.`);
  return rec;
}

/** A whole number ≥ 0 from a path or query string (or a JSON number). */
export function wholeNumber(v: unknown, field: string): number {
  const n = typeof v === 'number' ? v : typeof v === 'string' && /^\d{1,15}$/.test(v) ? Number(v) : NaN;
  if (!Number.isSafeInteger(n) || n < 0) throw invalid(field, `'${field}' must be a whole number ≥ 0.`);
  return n;
}

/** A finite number ≥ 0 from a query string or JSON. */
export function nonNegative(v: unknown, field: string): number {
  const n = numberOf(v);
  if (!Number.isFinite(n) || n < 0) throw invalid(field, `'${field}' must be a number ≥ 0.`);
  return n;
}

export function flag(v: unknown, field: string, dflt: boolean): boolean {
  if (v === undefined) return dflt;
  if (typeof v !== 'boolean') throw invalid(field, `'${field}' must be true or false.`);
  return v;
}
