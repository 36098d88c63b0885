import { GantryError } from '../../../domain/errors.js';
import { showValue } from '../../../domain/show.js';

type Query = Readonly<Record<string, unknown>>;

function one(q: Query, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (typeof v !== 'string') throw new GantryError('INVALID_ARGUMENT', `Give '${name}' once, as one value.`, { field: name });
  return v;
}

/** `$top` and `$skip`, bounded as the spec bounds them (`$top` at most `max`, default `def`). */
export function page(q: Query, o: { max: number; def: number }): { top: number; skip: number } {
  const int = (name: string, def: number, max: number): number => {
    const v = one(q, name);
    if (v === undefined || v === '') return def;
    const n = Number(v);
    if (!/^[0-9]+$/.test(v) || !Number.isSafeInteger(n) || n > max) {
      throw new GantryError('INVALID_ARGUMENT', `'${name}' must be an integer from 0 to ${max}; got ${showValue(v)}.`, { field: name });
    }
    return n;
  };
  return { top: int('$top', o.def, o.max), skip: int('$skip', 0, Number.MAX_SAFE_INTEGER) };
}

/** A string parameter, or undefined. */
export function str(q: Query, name: string, o: { maxLength?: number; pattern?: RegExp } = {}): string | undefined {
  const v = one(q, name);
  if (v === undefined) return undefined;
  if ((o.maxLength !== undefined && v.length > o.maxLength) || (o.pattern !== undefined && !o.pattern.test(v))) {
    throw new GantryError('INVALID_ARGUMENT', `'${name}' has an invalid value ${JSON.stringify(v.slice(0, 100))}.`, { field: name });
  }
  return v;
}

/** Comma-joined query arrays as the SDKs send them (`executableIds=a,b`, `labelSelector=a=b,c!=d`). */
export function splitCsv(v: string | undefined): string[] {
  return v === undefined || v === '' ? [] : v.split(',');
}

/** A comma-joined list parameter, at most `max` items; an empty one is no filter (undefined), as absent. */
export function csv(q: Query, name: string, max: number): string[] | undefined {
  const v = one(q, name);
  if (v === undefined) return undefined;
  const items = splitCsv(v)
    .map((s) => s.trim())
    .filter((s) => s !== '');
  if (items.length > max) throw new GantryError('INVALID_ARGUMENT', `'${name}' may list at most ${max} values.`, { field: name });
  return items.length === 0 ? undefined : items;
}

/** One of a fixed set of values. */
export function oneOf<T extends string>(q: Query, name: string, values: readonly T[]): T | undefined {
  const v = one(q, name);
  if (v === undefined) return undefined;
  if (!(values as readonly string[]).includes(v))
    throw new GantryError('INVALID_ARGUMENT', `'${name}' must be one of ${values.join(', ')}; got ${JSON.stringify(v.slice(0, 100))}.`, { field: name });
  return v as T;
}

/** AI Core's timestamps: ISO 8601 in UTC, whole seconds. */
export function isoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/\.\d{3}Z$/, 'Z');
}
