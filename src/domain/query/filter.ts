import { GantryError } from '../errors.js';
import { showValue } from '../show.js';
import { numberOf } from '../number.js';

/**
 * Filters, orders and limits over rows of typed fields: the engine's query model, used for offers
 * (placement, search) and for instance listings. The JSON operator form (`{"gte": 2}`) is how
 * conditions arrive from clients; each dialect maps its field names onto the fields it filters.
 */
export type FieldType = 'number' | 'boolean' | 'string' | 'version';

export type Operator = 'eq' | 'neq' | 'gt' | 'gte' | 'lt' | 'lte' | 'in' | 'notin';
// A Map, not an object: an operator named `toString` or `__proto__` must be unknown, not Object's.
const OPERATORS: ReadonlyMap<string, Operator> = new Map([
  ['eq', 'eq'],
  ['neq', 'neq'],
  ['gt', 'gt'],
  ['gte', 'gte'],
  ['lt', 'lt'],
  ['lte', 'lte'],
  ['in', 'in'],
  ['notin', 'notin'],
  ['nin', 'notin'],
]);

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
function bad(message: string, details: Record<string, unknown> = {}): GantryError {
  return new GantryError('INVALID_QUERY', message, details);
}

function coerce(field: string, type: FieldType, raw: unknown): Scalar {
  switch (type) {
    case 'number': {
      const n = numberOf(raw);
      if (!Number.isFinite(n)) throw bad(`Filter on '${field}' needs a number, got ${showValue(raw)}.`, { field });
      return n;
    }
    case 'boolean':
      if (typeof raw === 'boolean') return raw;
      if (raw === 'true' || raw === 'True' || raw === 1 || raw === '1') return true;
      if (raw === 'false' || raw === 'False' || raw === 0 || raw === '0') return false;
      throw bad(`Filter on '${field}' needs true or false, got ${showValue(raw)}.`, { field });
    case 'string':
      if (typeof raw === 'string') return raw;
      if (typeof raw === 'number' || typeof raw === 'boolean') return String(raw);
      throw bad(`Filter on '${field}' needs a string, got ${showValue(raw)}.`, { field });
    case 'version': {
      const v = versionNumber(raw);
      if (v === null) throw bad(`Filter on '${field}' needs a version such as 535.104.05 or 535104005, got ${showValue(raw)}.`, { field });
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
    const op = OPERATORS.get(rawOp);
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

/** `[[field, "asc"|"desc"], ...]`, or bare field names (ascending). */
export function parseOrder(raw: unknown): Order[] {
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

/** A value as conditions and orders compare it (exported for indexes that keep rows sorted). */
export function norm(type: FieldType | undefined, v: unknown): unknown {
  if (type === 'version') return versionNumber(v);
  // GPU names compare with spaces and underscores alike (RTX_4090 == "RTX 4090"), case-insensitively.
  if (typeof v === 'string') return v.replace(/_/g, ' ').toLowerCase();
  return v;
}

/** Order of two normalized values; null and undefined sort first. */
export function compare(a: unknown, b: unknown): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return -1;
  if (b === null || b === undefined) return 1;
  return (a as number) < (b as number) ? -1 : 1;
}

/** A condition with its value normalized once, so filtering does not redo it per row. */
export function compile(c: Condition, typeOf: TypeOf): (row: Readonly<Record<string, unknown>>) => boolean {
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

export function matches(row: object, c: Condition, typeOf: TypeOf): boolean {
  return compile(c, typeOf)(row as Readonly<Record<string, unknown>>);
}

/** What to keep and in which order: conditions (all must hold), sort keys, and a limit (null: all). */
export interface RowQuery {
  readonly conditions: readonly Condition[];
  readonly order: readonly Order[];
  readonly limit: number | null;
}

/** Filter, order and limit rows; `defaultOrder` applies when the query names none. */
export function applyQuery<T extends object>(rows: readonly T[], q: RowQuery, typeOf: TypeOf, defaultOrder: readonly Order[] = []): T[] {
  const tests = q.conditions.map((c) => compile(c, typeOf));
  const field = (row: T, f: string): unknown => (row as Readonly<Record<string, unknown>>)[f];
  const out = tests.length === 0 ? [...rows] : rows.filter((r) => tests.every((t) => t(r as Readonly<Record<string, unknown>>)));
  const order = q.order.length > 0 ? q.order : defaultOrder;
  if (order.length === 0) return q.limit === null ? out : out.slice(0, q.limit);
  // Sort keys are computed once per row, not once per comparison.
  const keyed = out.map((row) => ({ row, keys: order.map((o) => norm(typeOf(o.field), field(row, o.field))) }));
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

/**
 * Driver versions compare as integers `aaabbbccc` (535.104.05 → 535104005), the form clients send.
 * Returns null when the text is not a version.
 */
export function versionNumber(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v !== 'string') return null;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(t);
  if (!m) return null;
  return Number(m[1]) * 1_000_000 + Number(m[2] ?? 0) * 1_000 + Number(m[3] ?? 0);
}
