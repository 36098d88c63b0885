import { GantryError } from '../../../domain/errors.js';
import { applyQuery, parseCondition, type Condition, type FieldType, type Order } from '../../../domain/query/filter.js';
import { jsonParam } from './parse.js';
import { numberOf } from '../../../domain/number.js';
import { showValue } from '../../../domain/show.js';
import { onePage } from './page-token.js';

/** Columns stored on the instance record: filterable and sortable on `GET /api/v1/instances/`. */
const V1_COLUMNS: Readonly<Record<string, FieldType>> = {
  id: 'number',
  machine_id: 'number',
  actual_status: 'string',
  intended_status: 'string',
  cur_state: 'string',
  next_state: 'string',
  label: 'string',
  gpu_name: 'string',
  verification: 'string',
  image_uuid: 'string',
  status_msg: 'string',
  start_date: 'number',
};
const typeOf = (f: string): FieldType | undefined => (Object.prototype.hasOwnProperty.call(V1_COLUMNS, f) ? V1_COLUMNS[f] : undefined);
export const V1_MAX_LIMIT = 25;

function bad(message: string): GantryError {
  return new GantryError('INVALID_QUERY', message);
}

function parseFilters(raw: unknown): Condition[] {
  const v = jsonParam(raw);
  if (v === undefined || v === null || v === '') return [];
  if (typeof v !== 'object' || Array.isArray(v)) throw bad('select_filters must be a JSON object such as {"actual_status":{"eq":"running"}}.');
  return Object.entries(v as Record<string, unknown>).flatMap(([field, spec]) => {
    const t = typeOf(field);
    if (t === undefined) throw bad(`Column '${field}' cannot be filtered; filterable: ${Object.keys(V1_COLUMNS).join(', ')}.`);
    return parseCondition(field, t, spec);
  });
}

function parseOrder(raw: unknown): Order[] {
  const v = jsonParam(raw);
  if (v === undefined || v === null || v === '') return [];
  if (!Array.isArray(v)) throw bad('order_by must be a JSON list such as [{"col":"id","dir":"asc"}].');
  return v.map((o: unknown): Order => {
    const col = (o as { col?: unknown } | null)?.col;
    if (typeof col !== 'string' || typeOf(col) === undefined) throw bad(`Cannot order by ${showValue(col)}; use one of ${Object.keys(V1_COLUMNS).join(', ')}.`);
    return { field: col, dir: (o as { dir?: unknown }).dir === 'desc' ? 'desc' : 'asc' };
  });
}

/** The row's own fields named in select_cols (a name it lacks is null): `__proto__` reads no prototype. */
function pick(row: Record<string, unknown>, cols: readonly string[]): Record<string, unknown> {
  const out = Object.create(null) as Record<string, unknown>;
  for (const c of cols) out[c] = Object.hasOwn(row, c) ? (row[c] ?? null) : null;
  return out;
}

/** One page of rendered instance rows, with Vast's v1 envelope. */
export function pageInstances(rows: Record<string, unknown>[], query: Record<string, unknown>): Record<string, unknown> {
  const rawLimit = jsonParam(query.limit);
  let limit = rawLimit === undefined ? V1_MAX_LIMIT : numberOf(rawLimit);
  if (!Number.isFinite(limit)) throw bad('limit must be a number.');
  limit = limit <= 0 ? 5 : Math.min(Math.floor(limit), V1_MAX_LIMIT);
  const order = [...parseOrder(query.order_by), { field: 'id', dir: 'asc' as const }];
  const matched = applyQuery(rows, { conditions: parseFilters(query.select_filters), order, limit: null }, typeOf);
  const { page, next } = onePage(matched, query.after_token ?? query.next_token, limit);
  const cols = jsonParam(query.select_cols);
  const selected = Array.isArray(cols) && !cols.includes('*') ? page.map((r) => pick(r, cols.map(String))) : page;
  // Labels are the caller's text: a label named `__proto__` or `constructor` is counted like any other.
  const labelCounts: Record<string, number> = Object.create(null) as Record<string, number>;
  for (const r of matched) {
    const l = typeof r.label === 'string' ? r.label : '';
    labelCounts[l] = (labelCounts[l] ?? 0) + 1;
  }
  return { success: true, instances: selected, instances_found: selected.length, total_instances: matched.length, label_counts: labelCounts, next_token: next };
}
