import { GantryError } from '../errors.js';

/**
 * The scopes a key holds: permission categories, each for every resource or only for some ids.
 * Stored and exchanged in the JSON form Vast.ai defined for its keys (so its clients work unchanged):
 * `{"api": {"<category>": {}}}` grants a category outright;
 * `{"api": {"<category>": {"<action>": {"constraints": {"id": {"eq": 7}}}}}}` grants it for matching
 * resource ids only. A key without permissions holds every category.
 */
export const PERMISSION_CATEGORIES = [
  'instance_read',
  'instance_write',
  'user_read',
  'user_write',
  'billing_read',
  'billing_write',
  'machine_read',
  'machine_write',
  'misc',
  'team_read',
  'team_write',
] as const;
export type PermissionCategory = (typeof PERMISSION_CATEGORIES)[number];

export interface IdConstraint {
  readonly eq?: number;
  readonly gte?: number;
  readonly lte?: number;
}

/** Per category: null grants it for every resource; a list grants it for ids that meet one of the constraints. */
export type Permissions = ReadonlyMap<PermissionCategory, readonly IdConstraint[] | null>;

export const ALL_PERMISSIONS: Permissions = new Map(PERMISSION_CATEGORIES.map((c) => [c, null]));

const isCategory = (s: string): s is PermissionCategory => (PERMISSION_CATEGORIES as readonly string[]).includes(s);
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(msg: string): GantryError {
  return new GantryError('INVALID_PERMISSIONS', `Invalid permissions: ${msg}`);
}

function parseConstraint(v: unknown, where: string): IdConstraint | null {
  if (v === undefined) return null;
  if (!isObject(v)) throw invalid(`${where}.constraints must be an object.`);
  const id = v.id;
  if (id === undefined) return null;
  if (!isObject(id)) throw invalid(`${where}.constraints.id must be an object of eq/gte/lte.`);
  const out: { eq?: number; gte?: number; lte?: number } = {};
  for (const [op, val] of Object.entries(id)) {
    if (op !== 'eq' && op !== 'gte' && op !== 'lte') throw invalid(`${where}.constraints.id has unknown operator "${op}" (eq, gte, lte).`);
    const n = typeof val === 'string' && /^\d+$/.test(val) ? Number(val) : val;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw invalid(`${where}.constraints.id.${op} must be a number.`);
    out[op] = n;
  }
  return out;
}

/** Parse the permission JSON of a key or role; INVALID_ARGUMENT names what is wrong. */
export function parsePermissions(json: unknown): Permissions {
  if (!isObject(json)) throw invalid('expected an object such as {"api": {"instance_read": {}}}.');
  const api = json.api;
  if (!isObject(api)) throw invalid('the top-level key must be "api".');
  const out = new Map<PermissionCategory, IdConstraint[] | null>();
  for (const [cat, grant] of Object.entries(api)) {
    if (!isCategory(cat)) throw invalid(`unknown category "${cat}"; known: ${PERMISSION_CATEGORIES.join(', ')}.`);
    if (!isObject(grant)) throw invalid(`api.${cat} must be an object.`);
    const actions = Object.entries(grant);
    if (actions.length === 0) {
      out.set(cat, null);
      continue;
    }
    const list: IdConstraint[] = [];
    let unconstrained = false;
    for (const [action, spec] of actions) {
      if (!isObject(spec)) throw invalid(`api.${cat}.${action} must be an object.`);
      const c = parseConstraint(spec.constraints, `api.${cat}.${action}`);
      if (c === null) unconstrained = true;
      else list.push(c);
    }
    out.set(cat, unconstrained ? null : list);
  }
  return out;
}

/** Back to Vast's JSON (what the key listing shows as `rights`). */
export function permissionsJson(p: Permissions): Record<string, unknown> {
  const api: Record<string, unknown> = {};
  for (const [cat, list] of p) {
    api[cat] = list === null ? {} : Object.fromEntries(list.map((c, i) => [`rule_${i}`, { constraints: { id: c } }]));
  }
  return { api };
}

function meets(c: IdConstraint, id: number): boolean {
  return (c.eq === undefined || id === c.eq) && (c.gte === undefined || id >= c.gte) && (c.lte === undefined || id <= c.lte);
}

/** Whether the grants allow `category`, for resource `id` when the call names one. */
export function allows(p: Permissions, category: PermissionCategory, id: number | null): boolean {
  if (!p.has(category)) return false;
  const list = p.get(category) ?? null;
  if (list === null) return true;
  // A constrained grant never covers calls that name no single resource (listings, creates).
  return id !== null && list.some((c) => meets(c, id));
}

/** Whether every grant of `inner` is also held by `outer`: a key may only hand out what it holds. */
export function isWithin(inner: Permissions, outer: Permissions): boolean {
  for (const [cat, list] of inner) {
    if (!outer.has(cat)) return false;
    const o = outer.get(cat) ?? null;
    if (o === null) continue;
    if (list === null) return false;
    if (!list.every((c) => c.eq !== undefined && o.some((oc) => meets(oc, c.eq as number)))) return false;
  }
  return true;
}

/** What both grant (a team member's key: the key's own grants narrowed by the member's role). */
export function intersect(a: Permissions, b: Permissions): Permissions {
  const out = new Map<PermissionCategory, readonly IdConstraint[] | null>();
  for (const [cat, la] of a) {
    if (!b.has(cat)) continue;
    const lb = b.get(cat) ?? null;
    if (la === null) out.set(cat, lb);
    else if (lb === null) out.set(cat, la);
    // Both constrained: keep the exact ids both allow; ranges on both sides are kept from `a` only when `b` holds them.
    else
      out.set(
        cat,
        la.filter((c) => c.eq !== undefined && lb.some((oc) => meets(oc, c.eq as number))),
      );
  }
  return out;
}
