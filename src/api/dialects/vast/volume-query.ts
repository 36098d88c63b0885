import { GantryError } from '../../../domain/errors.js';
import { showValue } from '../../../domain/show.js';

/** Keys of a `search volumes` body that are not conditions. */
const NOT_CONDITIONS = new Set(['order', 'limit', 'allocated_storage', 'type']);
const OPS = new Set(['eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'notin']);

function holds(v: unknown, op: string, want: unknown): boolean {
  switch (op) {
    case 'eq':
      return v === want || (typeof v === 'number' && typeof want === 'string' && v === Number(want));
    case 'neq':
      return !holds(v, 'eq', want);
    case 'in':
      return Array.isArray(want) && want.some((w) => holds(v, 'eq', w));
    case 'notin':
      return !holds(v, 'in', want);
    default: {
      if (typeof v !== 'number' || typeof want !== 'number') return false;
      return op === 'gt' ? v > want : op === 'gte' ? v >= want : op === 'lt' ? v < want : v <= want;
    }
  }
}

/**
 * The clients' volume query (`{"disk_space": {"gte": 1}, "verified": {"eq": true}, "order": [["score", "desc"]],
 * "limit": N}`) applied to rendered offer rows; a field no row has is ignored, as in offer search.
 */
export function applyVolumeQuery(rows: Record<string, unknown>[], body: unknown): Record<string, unknown>[] {
  const q = body !== null && typeof body === 'object' && !Array.isArray(body) ? (body as Record<string, unknown>) : {};
  const known = new Set(rows.length > 0 ? Object.keys(rows[0] as object) : []);
  let out = rows;
  for (const [field, cond] of Object.entries(q)) {
    if (NOT_CONDITIONS.has(field)) continue;
    if (cond === null || typeof cond !== 'object' || Array.isArray(cond))
      throw new GantryError('INVALID_QUERY', `Condition on '${field}' must be an object such as {"gte": 1}, got ${showValue(cond)}.`, { field });
    for (const [op, want] of Object.entries(cond as Record<string, unknown>)) {
      if (!OPS.has(op)) throw new GantryError('INVALID_QUERY', `Unknown operator '${op}' on '${field}'.`, { field });
      // As offer search does for the clients (README, "Compatibility"): a field no row has is ignored.
      if (!known.has(field)) continue;
      out = out.filter((r) => holds(r[field], op, want));
    }
  }
  const order = Array.isArray(q.order) ? (q.order as unknown[]) : [];
  const keys = order.filter((o): o is [string, string] => Array.isArray(o) && typeof o[0] === 'string').map(([f, d]) => ({ f, desc: d === 'desc' }));
  out = [...out].sort((a, b) => {
    for (const { f, desc } of keys) {
      const x = a[f];
      const y = b[f];
      if (typeof x === 'number' && typeof y === 'number' && x !== y) return desc ? y - x : x - y;
    }
    return Number(a.id) - Number(b.id);
  });
  const limit = typeof q.limit === 'number' && Number.isSafeInteger(q.limit) && q.limit > 0 ? q.limit : out.length;
  return out.slice(0, limit);
}
