import { GantryError } from '../errors.js';

/**
 * The scopes a key holds: permission categories, each for every resource or only for some ids.
 * Stored and exchanged in the JSON form Vast.ai defined for its keys (so its clients work unchanged):
 * `{"api": {"<category>": {}}}` grants a category outright;
 * `{"api": {"<category>": {"<action>": {"constraints": {"id": {"eq": 7}}}}}}` grants it for matching
 * resource ids only. A key without permissions holds every category.
 *
 * An id means nothing without the kind of thing it numbers: instances, volumes, endpoints and keys are
 * numbered apart, and one category covers several kinds (misc: endpoints, workergroups, deployments). So a
 * constraint holds for one kind, read from its action's name (Vast's `api.instance.request_logs`, or a
 * plain `endpoint`), else the category's main kind (`CATEGORY_KIND`): a key for deployment 1 is not a key
 * for endpoint 1, nor one for instance 2 a key for volume 2.
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

/** What a constrained grant's ids number. */
export const RESOURCE_KINDS = [
  'instance',
  'volume',
  'machine',
  'user',
  'api_key',
  'ssh_key',
  'endpoint',
  'workergroup',
  'deployment',
  'scheduled_job',
] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

/** One resource a call acts on, for the id constraints of a key. */
export interface ResourceRef {
  readonly kind: ResourceKind;
  readonly id: number;
}

/** The kinds each category's use cases name, the first its main kind (an action name that names no kind means it). */
export const CATEGORY_KINDS: Readonly<Record<PermissionCategory, readonly [ResourceKind, ...ResourceKind[]]>> = {
  instance_read: ['instance', 'volume'],
  instance_write: ['instance', 'volume'],
  user_read: ['user', 'api_key', 'ssh_key'],
  user_write: ['user', 'api_key', 'ssh_key', 'scheduled_job'],
  billing_read: ['user'],
  billing_write: ['user'],
  machine_read: ['machine'],
  machine_write: ['machine'],
  misc: ['deployment', 'endpoint', 'workergroup'],
  team_read: ['user'],
  team_write: ['user'],
};

/** The words an action's name may use for a kind (Vast's route names among them), singular or plural. */
const KIND_WORDS: Readonly<Record<string, ResourceKind>> = {
  instance: 'instance',
  volume: 'volume',
  machine: 'machine',
  user: 'user',
  account: 'user',
  member: 'user',
  api_key: 'api_key',
  apikey: 'api_key',
  ssh: 'ssh_key',
  ssh_key: 'ssh_key',
  sshkey: 'ssh_key',
  endpoint: 'endpoint',
  endptjob: 'endpoint',
  workergroup: 'workergroup',
  autojob: 'workergroup',
  deployment: 'deployment',
  scheduled_job: 'scheduled_job',
};

/** The rule names an earlier version wrote for derived keys (`rule_0`…): the kind they meant was not kept. */
const LEGACY_RULE = /^rule_\d+$/;

/** The kind an action's name names (`api.<kind>.…` or `<kind>`, `<kind>s`), or null. */
function kindNamed(action: string): ResourceKind | null {
  const parts = action.toLowerCase().split('.');
  const word = (parts[0] === 'api' && parts.length > 1 ? parts[1] : parts[0]) ?? '';
  // Own words only: an action named `constructor` or `__proto__` names no kind.
  const of = (w: string): ResourceKind | null => (Object.hasOwn(KIND_WORDS, w) ? (KIND_WORDS[w] as ResourceKind) : null);
  return of(word) ?? of(word.replace(/s$/, ''));
}

export interface IdConstraint {
  /**
   * Null: a rule an earlier version wrote (`rule_N`) for a key it derived from its creator's grants, with no word
   * for the kind its ids meant. It covers nothing rather than guess (a guess could exceed what the creator held).
   */
  readonly kind: ResourceKind | null;
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

function parseConstraint(v: unknown, where: string, kind: ResourceKind | null): IdConstraint | null {
  if (v === undefined) return null;
  if (!isObject(v)) throw invalid(`${where}.constraints must be an object.`);
  const id = v.id;
  if (id === undefined) return null;
  if (!isObject(id)) throw invalid(`${where}.constraints.id must be an object of eq/gte/lte.`);
  const out: { kind: ResourceKind | null; eq?: number; gte?: number; lte?: number } = { kind };
  for (const [op, val] of Object.entries(id)) {
    if (op !== 'eq' && op !== 'gte' && op !== 'lte') throw invalid(`${where}.constraints.id has unknown operator "${op}" (eq, gte, lte).`);
    const n = typeof val === 'string' && /^\d+$/.test(val) ? Number(val) : val;
    if (typeof n !== 'number' || !Number.isFinite(n)) throw invalid(`${where}.constraints.id.${op} must be a number.`);
    out[op] = n;
  }
  return out;
}

/**
 * Parse the permission JSON of a key or role; INVALID_PERMISSIONS names what is wrong. `strict` (a key or role
 * being made) also refuses an action named after a kind its category does not cover (`misc` → `api.instance.x`),
 * which would grant nothing; grants stored before kinds were read keep parsing (such a rule covers nothing).
 */
export function parsePermissions(json: unknown, o: { strict?: boolean } = {}): Permissions {
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
      const kinds = CATEGORY_KINDS[cat];
      const kind = LEGACY_RULE.test(action) ? null : (kindNamed(action) ?? kinds[0]);
      const c = parseConstraint(spec.constraints, `api.${cat}.${action}`, kind);
      // Only a rule with ids needs a kind: a key being made names one its category covers.
      if (c !== null && o.strict === true && (kind === null || !kinds.includes(kind)))
        throw invalid(
          kind === null
            ? `api.${cat}.${action}: name the rule after the kind of its ids (${kinds.join(', ')}), as in "api.${kinds[0]}.${action}".`
            : `api.${cat}.${action} names ${kind} ids, which ${cat} does not cover (it covers ${kinds.join(', ')}).`,
        );
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
    api[cat] =
      list === null
        ? {}
        : Object.fromEntries(list.map(({ kind, ...id }, i) => [kind === null ? `rule_${i}` : `api.${kind}.rule_${i}`, { constraints: { id } }]));
  }
  return { api };
}

function meets(c: IdConstraint, r: ResourceRef): boolean {
  const id = r.id;
  return c.kind === r.kind && (c.eq === undefined || id === c.eq) && (c.gte === undefined || id >= c.gte) && (c.lte === undefined || id <= c.lte);
}

/** Whether the grants allow `category`, for the resource `r` when the call names one. */
export function allows(p: Permissions, category: PermissionCategory, r: ResourceRef | null): boolean {
  if (!p.has(category)) return false;
  const list = p.get(category) ?? null;
  if (list === null) return true;
  // A constrained grant never covers calls that name no single resource (listings, creates).
  return r !== null && list.some((c) => meets(c, r));
}

/** The one resource an exact constraint names, or null for a range. */
const exact = (c: IdConstraint): ResourceRef | null => (c.eq === undefined || c.kind === null ? null : { kind: c.kind, id: c.eq });

/** Whether constraint `c` names one resource, which `outer` covers (ranges are not compared). */
function within(c: IdConstraint, outer: IdConstraint): boolean {
  const r = exact(c);
  return r !== null && meets(outer, r);
}

/** Whether every grant of `inner` is also held by `outer`: a key may only hand out what it holds. */
export function isWithin(inner: Permissions, outer: Permissions): boolean {
  for (const [cat, list] of inner) {
    if (!outer.has(cat)) return false;
    const o = outer.get(cat) ?? null;
    if (o === null) continue;
    if (list === null) return false;
    if (!list.every((c) => o.some((oc) => within(c, oc)))) return false;
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
        la.filter((c) => lb.some((oc) => within(c, oc))),
      );
  }
  return out;
}
