import type { PermissionCategory } from '../../../domain/account/permissions.js';

type Family = 'instance' | 'user' | 'billing' | 'machine' | 'misc' | 'team';

/** Vast's route → permission family table, by the first path segment after /api/v0 or /api/v1. */
const FAMILY: Readonly<Record<string, Family>> = {
  instances: 'instance',
  asks: 'instance',
  users: 'user',
  subaccounts: 'user',
  auth: 'user',
  secrets: 'user',
  ssh: 'user',
  audit_logs: 'user',
  charges: 'billing',
  invoices: 'billing',
  commands: 'billing',
  machines: 'machine',
  host_tokens: 'machine',
  team: 'team',
};

/** Calls that read although they are not GETs (Vast's CLI asks for logs with PUT). */
const READS_BY_OTHER_VERBS = new Set(['/api/v0/instances/request_logs/:id', '/api/v0/bundles', '/api/v0/search/asks']);

/**
 * The permission a Vast route needs, and the resource id it names (for constrained keys); null for
 * routes outside the permission model (the worker and routing paths authenticate on their own).
 */
export function vastPermission(method: string, route: string, params: Record<string, string>): { category: PermissionCategory; id: number | null } | null {
  const m = /^\/api\/v[01]\/([^/]+)(\/.*)?$/.exec(route);
  if (!m) return null;
  const head = m[1] as string;
  let family: Family = FAMILY[head] ?? 'misc';
  if (head === 'users' && route.includes('machine-earnings')) family = 'billing';
  const read = method === 'GET' || method === 'HEAD' || READS_BY_OTHER_VERBS.has(route);
  const category: PermissionCategory = family === 'misc' ? 'misc' : `${family}_${read ? 'read' : 'write'}`;
  const raw = params.id;
  const id = raw !== undefined && /^\d+$/.test(raw) ? Number(raw) : null;
  return { category, id };
}
