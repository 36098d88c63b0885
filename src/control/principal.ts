import { GantryError } from '../domain/errors.js';
import { ALL_PERMISSIONS, allows, type PermissionCategory, type Permissions } from '../domain/account/permissions.js';
import type { InstanceRecord } from '../domain/instance/instance.js';
import type { KeyScope } from '../domain/account/records.js';

/** Who is calling, after authentication. */
export interface Principal {
  readonly accountId: number;
  readonly username: string;
  readonly isAdmin: boolean;
  readonly scope: KeyScope;
  /** For instance-scoped keys: the one instance this key may act on. */
  readonly instanceId: number | null;
  /** The key used (audit); null for internal callers. */
  readonly keyId: number | null;
  /** Who acts: the account itself, or the team member a team key was made for. */
  readonly actorId: number;
  /** What the key may do (Vast's categories); account keys made without permissions hold all. */
  readonly permissions: Permissions;
}

export type InstanceRight = 'read' | 'start' | 'stop' | 'destroy' | 'manage';
const INSTANCE_KEY_RIGHTS: ReadonlySet<InstanceRight> = new Set(['read', 'start', 'stop', 'destroy']);

/**
 * Another tenant's instance answers "not found", so its existence does not leak. An instance key
 * may read, start, stop and destroy its own instance and nothing else.
 */
export function authorizeInstance(p: Principal, inst: InstanceRecord | undefined, id: number, right: InstanceRight): InstanceRecord {
  const notFound = new GantryError('INSTANCE_NOT_FOUND', `No instance with id ${id}.`, { instanceId: id });
  if (inst === undefined || inst.status === 'destroyed') throw notFound;
  if (p.scope === 'instance') {
    if (p.instanceId !== inst.id) throw notFound;
    if (!INSTANCE_KEY_RIGHTS.has(right)) throw new GantryError('FORBIDDEN', `This instance key may only start, stop or destroy instance ${inst.id}.`);
    return inst;
  }
  if (inst.accountId !== p.accountId && !p.isAdmin) throw notFound;
  return inst;
}

export function requireAccountKey(p: Principal): void {
  if (p.scope !== 'full') throw new GantryError('FORBIDDEN', 'An instance key may only start, stop or destroy its own instance.');
}

export function requireAdmin(p: Principal): void {
  requireAccountKey(p);
  if (!p.isAdmin) throw new GantryError('ADMIN_ONLY', 'Only an admin account may do this.');
}

/** Vast's permission check: FORBIDDEN naming the category the key lacks. Instance keys follow their own rule. */
export function requirePermission(p: Principal, category: PermissionCategory, resourceId: number | null): void {
  if (p.scope === 'instance') return;
  if (!allows(p.permissions, category, resourceId)) {
    throw new GantryError('PERMISSION_MISSING', `This API key lacks the ${category} permission${resourceId !== null ? ` for id ${resourceId}` : ''}.`, {
      scope: category,
    });
  }
}

/** The engine acting for an account (the serverless loop, the billing loop): the account's rights, no key. */
export function systemPrincipal(accountId: number, username: string): Principal {
  return { accountId, username, isAdmin: false, scope: 'full', instanceId: null, keyId: null, actorId: accountId, permissions: ALL_PERMISSIONS };
}
