import { GantryError } from '../../../domain/errors.js';

/** The query string as fastify parsed it (a repeated parameter is an array). */
export type Query = Readonly<Record<string, unknown>>;

function bad(msg: string, field: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', msg, { field });
}

function single(q: Query, name: string): string | undefined {
  const v = q[name];
  if (v === undefined) return undefined;
  if (Array.isArray(v)) return v.map((x) => (typeof x === 'string' ? x : JSON.stringify(x))).join(',');
  return typeof v === 'string' ? v : JSON.stringify(v);
}

/** Elasticsearch's booleans: `true`, `false`, or the bare name (`?force`) for true. */
export function boolParam(q: Query, name: string, dflt: boolean): boolean {
  const v = single(q, name);
  if (v === undefined) return dflt;
  if (v === '' || v === 'true') return true;
  if (v === 'false') return false;
  throw bad(`Failed to parse value [${v}] of [${name}] as only [true] or [false] are allowed.`, name);
}

/** A whole number in [min, max]. */
export function intParam(q: Query, name: string, dflt: number, min: number, max: number): number {
  const v = single(q, name);
  if (v === undefined) return dflt;
  if (!/^-?\d+$/.test(v.trim())) throw bad(`[${name}] must be an integer, not [${v.length > 100 ? `${v.slice(0, 100)}…` : v}].`, name);
  const n = Number(v);
  if (n < min || n > max) throw bad(`[${name}] must be between ${min} and ${max}, not [${v}].`, name);
  return n;
}

export function stringParam(q: Query, name: string): string | null {
  return single(q, name) ?? null;
}

/** A csv parameter (or a repeated one) as its items. */
export function csvParam(q: Query, name: string): string[] {
  const v = single(q, name);
  if (v === undefined) return [];
  return v
    .split(',')
    .map((s) => s.trim())
    .filter((s) => s !== '');
}

/** A JSON body that must be an object (absent: `{}` when allowed). */
export function objectBody(body: unknown, o: { optional: boolean }): Record<string, unknown> {
  if (body === undefined || body === null) {
    if (o.optional) return {};
    throw new GantryError('MISSING_INPUT', 'request body is required', { field: 'body' });
  }
  if (typeof body !== 'object' || Array.isArray(body)) throw new GantryError('INVALID_JSON', 'The request body must be a JSON object.', { field: 'body' });
  return body as Record<string, unknown>;
}

/** Refuse fields the API does not define, as Elasticsearch's parser does ("unknown field"). */
export function knownFields(body: Record<string, unknown>, allowed: ReadonlySet<string>, what: string): void {
  for (const k of Object.keys(body)) {
    if (!allowed.has(k)) throw new GantryError('INVALID_ARGUMENT', `[${what}] unknown field [${k}]`, { field: k, esType: 'x_content_parse_exception' });
  }
}

export function optString(body: Record<string, unknown>, name: string): string | null {
  const v = body[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'string') throw bad(`[${name}] must be a string.`, name);
  return v;
}

export function optStringArray(body: Record<string, unknown>, name: string): string[] | null {
  const v = body[name];
  if (v === undefined || v === null) return null;
  if (!Array.isArray(v) || v.some((s) => typeof s !== 'string')) throw bad(`[${name}] must be an array of strings.`, name);
  return v as string[];
}

export function optObject(body: Record<string, unknown>, name: string): Record<string, unknown> | null {
  const v = body[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'object' || Array.isArray(v)) throw bad(`[${name}] must be an object.`, name);
  return v as Record<string, unknown>;
}

/** A non-negative whole number field. */
export function optCount(body: Record<string, unknown>, name: string): number | null {
  const v = body[name];
  if (v === undefined || v === null) return null;
  if (typeof v !== 'number' || !Number.isSafeInteger(v) || v < 0) throw bad(`[${name}] must be a non-negative integer.`, name);
  return v;
}

// One character class, not a repeated group: a group repeated over a part of megabytes overflows the regex stack.
const BASE64_CHARS = /^[A-Za-z0-9+/]*={0,2}$/;

/** Strict base64 (standard alphabet, padded, no whitespace), as Elasticsearch's decoder takes it. */
export const isStrictBase64 = (s: string): boolean => s.length % 4 === 0 && BASE64_CHARS.test(s);
