import { GantryError } from '../errors.js';
import { fieldType, versionNumber, type FieldType } from './fields.js';

export type Operator = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'notin';
const OPERATORS: Readonly<Record<string, Operator>> = {
  eq: 'eq',
  neq: 'neq',
  gt: 'gt',
  gte: 'gte',
  lt: 'lt',
  lte: 'lte',
  in: 'in',
  notin: 'notin',
  nin: 'notin',
};

export type Scalar = number | boolean | string;
export interface Condition {
  readonly field: string;
  readonly op: Operator;
  readonly value: Scalar | readonly Scalar[];
}
export interface Order {
  readonly field: string;
  readonly dir: 'asc' | 'desc';
}
export type OfferType = 'on-demand' | 'bid' | 'reserved';

export interface OfferQuery {
  readonly conditions: readonly Condition[];
  readonly order: readonly Order[];
  readonly limit: number | null;
  readonly type: OfferType;
  /** GB of disk used to price storage into dph_total. */
  readonly allocatedStorageGb: number;
}

/** Keys of the search body that are not filters. */
const NON_FILTER_KEYS = new Set(['order', 'type', 'limit', 'allocated_storage', 'select_cols', 'q', 'disable_bundling', 'extra_ids']);
const OFFER_TYPES: Readonly<Record<string, OfferType>> = {
  'on-demand': 'on-demand',
  ondemand: 'on-demand',
  bid: 'bid',
  interruptible: 'bid',
  reserved: 'reserved',
};
export const DEFAULT_ALLOCATED_STORAGE_GB = 5;
export const MAX_OFFER_LIMIT = 100_000;

function bad(message: string, details: Record<string, unknown> = {}): GantryError {
  return new GantryError('INVALID_QUERY', message, details);
}

function coerce(field: string, type: FieldType, raw: unknown): Scalar {
  switch (type) {
    case 'number': {
      const n = typeof raw === 'number' ? raw : typeof raw === 'string' && raw.trim() !== '' ? Number(raw) : NaN;
      if (!Number.isFinite(n)) throw bad(`Filter on '${field}' needs a number, got ${JSON.stringify(raw)}.`, { field });
      return n;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === 'True' || raw === 1 || raw === '1') return true;
      if (raw === 'false' || raw === 'False' || raw === 0 || raw === '0') return false;
      throw bad(`Filter on '${field}' needs true or false, got ${JSON.stringify(raw)}.`, { field });
    case 'string':
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
      throw bad(`Filter on '${field}' needs a string, got ${JSON.stringify(raw)}.`, { field });
    case 'version': {
      const v = versionNumber(raw);
      if (v === null) throw bad(`Filter on '${field}' needs a version such as 535.104.05 or 535104005, got ${JSON.stringify(raw)}.`, { field });
      return v;
    }
  }
}

export type TypeOf = (field: string) => FieldType | undefined;

export function parseCondition(field: string, type: FieldType, spec: unknown): Condition[] {
  // A bare value means equality, as the legacy clients sometimes send.
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) {
    if (spec === null) return [];
    return [{ field, op: 'eq', value: coerce(field, type, spec) }];
  }
  const out: Condition[] = [];
  for (const [rawOp, raw] of Object.entries(spec as Record<string, unknown>)) {
    const op = OPERATORS[rawOp];
    if (op === undefined) throw bad(`Unknown operator '${rawOp}' on '${field}'; use one of eq, neq, gt, gte, lt, lte, in, notin.`, { field, operator: rawOp });
    if (raw === null) continue; // clients send {"eq": null} for "no constraint"
    if (op === 'in' || op === 'notin') {
      if (!Array.isArray(raw)) throw bad(`Operator '${rawOp}' on '${field}' needs a list.`, { field, operator: rawOp });
      out.push({ field, op, value: raw.map((v) => coerce(field, type, v)) });
    } else {
      if (Array.isArray(raw) || typeof raw === 'object') throw bad(`Operator '${rawOp}' on '${field}' needs a single value.`, { field, operator: rawOp });
      out.push({ field, op, value: coerce(field, type, raw) });
    }
  }
  return out;
}

function parseOrder(raw: unknown): Order[] {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) throw bad(`'order' must be a list of [field, "asc"|"desc"] pairs.`);
  return raw.map((item): Order => {
    const pair = Array.isArray(item) ? item : [item];
    const [field, dir = 'asc'] = pair as unknown[];
    if (typeof field !== 'string' || field === '') throw bad(`'order' entries must start with a field name.`);
    if (dir !== 'asc' && dir !== 'desc') throw bad(`Order direction for '${field}' must be "asc" or "desc".`, { field });
    return { field, dir };
  });
}

/**
 * Parse Vast's search body: the body is the filter object itself, plus non-filter keys.
 * Unknown fields are ignored (clients send many); unknown operators and wrongly typed values are errors.
 */
export function parseOfferQuery(body: unknown): OfferQuery {
  if (body === undefined || body === null) body = {};
  if (typeof body !== 'object' || Array.isArray(body)) throw bad('The search body must be a JSON object of filters.');
  const b = body as Record<string, unknown>;
  // `PUT /search/asks/` wraps the filters as {"q": {...}}.
  const filters = b.q !== undefined && typeof b.q === 'object' && b.q !== null && !Array.isArray(b.q) ? { ...(b.q as Record<string, unknown>) } : b;
  const conditions: Condition[] = [];
  for (const [key, spec] of Object.entries(filters)) {
    if (NON_FILTER_KEYS.has(key)) continue;
    const type = fieldType(key);
    if (type === undefined) continue;
    conditions.push(...parseCondition(key, type, spec));
  }
  const rawType = filters.type ?? b.type ?? 'on-demand';
  const type = typeof rawType === 'string' ? OFFER_TYPES[rawType] : undefined;
  if (type === undefined) throw bad(`'type' must be one of on-demand, bid, interruptible, reserved; got ${JSON.stringify(rawType)}.`);
  const rawLimit = filters.limit ?? b.limit;
  let limit: number | null = null;
  if (rawLimit !== undefined && rawLimit !== null) {
    const n = Number(rawLimit);
    if (!Number.isInteger(n) || n < 0) throw bad(`'limit' must be a non-negative integer.`);
    limit = Math.min(n, MAX_OFFER_LIMIT);
  }
  const rawStorage = filters.allocated_storage ?? b.allocated_storage;
  let allocatedStorageGb = DEFAULT_ALLOCATED_STORAGE_GB;
  if (rawStorage !== undefined && rawStorage !== null) {
    const n = Number(rawStorage);
    if (!Number.isFinite(n) || n < 0) throw bad(`'allocated_storage' must be a non-negative number of GB.`);
    allocatedStorageGb = n;
  }
  return { conditions, order: parseOrder(filters.order ?? b.order), limit, type, allocatedStorageGb };
}

function norm(type: FieldType | undefined, v: unknown): unknown {
  if (type === 'version') return versionNumber(v);
  // GPU names compare with spaces and underscores alike (RTX_4090 == "RTX 4090"), case-insensitively.
  if (typeof v === 'string') return v.replace(/_/g, ' ').toLowerCase();
  return v;
}

function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number) < (b as number) ? -1 : 1;
}

/** A condition with its value normalized once, so filtering does not redo it per row. */
function compile(c: Condition, typeOf: TypeOf): (row: Readonly<Record<string, unknown>>) => boolean {
  const type = typeOf(c.field);
  const field = c.field;
  const present = (v: unknown): boolean => v !== null && v !== undefined;
  if (c.op === 'in' || c.op === 'notin') {
    const set = new Set((c.value as readonly Scalar[]).map((x) => norm(type, x)));
    return c.op === 'in' ? (r) => set.has(norm(type, r[field])) : (r) => !set.has(norm(type, r[field]));
  }
  const want = norm(type, c.value);
  switch (c.op) {
    case 'eq':
      return (r) => norm(type, r[field]) === want;
    case 'neq':
      return (r) => norm(type, r[field]) !== want;
    case 'gt':
      return (r) => present(r[field]) && compare(norm(type, r[field]), want) > 0;
    case 'gte':
      return (r) => present(r[field]) && compare(norm(type, r[field]), want) >= 0;
    case 'lt':
      return (r) => present(r[field]) && compare(norm(type, r[field]), want) < 0;
    case 'lte':
      return (r) => present(r[field]) && compare(norm(type, r[field]), want) <= 0;
  }
}

export function matches(row: Readonly<Record<string, unknown>>, c: Condition, typeOf: TypeOf = fieldType): boolean {
  return compile(c, typeOf)(row);
}

/** Filter, order and limit rows; `defaultOrder` applies when the query names none. */
export function applyQuery<T extends Readonly<Record<string, unknown>>>(
  rows: readonly T[],
  q: Pick<OfferQuery, 'conditions' | 'order' | 'limit'>,
  defaultOrder: readonly Order[] = [],
  typeOf: TypeOf = fieldType,
): T[] {
  const tests = q.conditions.map((c) => compile(c, typeOf));
  const out = tests.length === 0 ? [...rows] : rows.filter((r) => tests.every((t) => t(r)));
  const order = q.order.length > 0 ? q.order : defaultOrder;
  if (order.length === 0) return q.limit === null ? out : out.slice(0, q.limit);
  // Sort keys are computed once per row, not once per comparison.
  const keyed = out.map((row) => ({ row, keys: order.map((o) => norm(typeOf(o.field), row[o.field])) }));
  const cmp = (a: { keys: unknown[] }, b: { keys: unknown[] }): number => {
    for (let i = 0; i < order.length; i++) {
      const d = compare(a.keys[i], b.keys[i]);
      if (d !== 0) return order[i]?.dir === 'desc' ? -d : d;
    }
    return 0;
  };
  if (q.limit !== null && q.limit * 4 < keyed.length) return topK(keyed, q.limit, cmp).map((k) => k.row);
  keyed.sort(cmp);
  const sorted = keyed.map((k) => k.row);
  return q.limit === null ? sorted : sorted.slice(0, q.limit);
}

/** The first k items in `cmp` order, stable, without sorting everything (searches ask for few of many). */
function topK<T>(items: readonly T[], k: number, cmp: (a: T, b: T) => number): T[] {
  const best: T[] = [];
  if (k === 0) return best;
  for (const item of items) {
    if (best.length === k && cmp(item, best[k - 1] as T) >= 0) continue;
    let lo = 0;
    let hi = best.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (cmp(item, best[mid] as T) < 0) hi = mid;
      else lo = mid + 1;
    }
    best.splice(lo, 0, item);
    if (best.length > k) best.pop();
  }
  return best;
}
