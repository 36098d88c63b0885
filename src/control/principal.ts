import { ACTION_SCOPES, ACTION_WORDS, INSTANCE_KEY_ACTIONS, type Action } from '../domain/account/actions.js';
import { allows, ALL_PERMISSIONS, type Permissions, type ResourceRef } from '../domain/account/permissions.js';
import type { KeyScope } from '../domain/account/records.js';
import type { InstanceRecord } from '../domain/instance/instance.js';
import { GantryError } from '../domain/errors.js';

/** Who is calling, after a dialect turned its credentials (an API key, a token) into one. */
export interface Principal {
  readonly accountId: number;
  readonly username: string;
  readonly isAdmin: boolean;
  /** 'instance': an instance's own key, limited to that instance. */
  readonly scope: KeyScope;
  /** For instance-scoped keys: the one instance this key may act on. */
  readonly instanceId: number | null;
  /** The key used (audit); null for internal callers. */
  readonly keyId: number | null;
  /** Who acts: the account itself, or the team member a team key was made for. */
  readonly actorId: number;
  /** The scopes the key holds (permission categories, each for every resource or for some ids); keys made without any hold all. */
  readonly scopes: Permissions;
}

/**
 * The one authorization check, at the start of every use case: may `p` do `action` (on resource
 * `resourceId`, when the action names one)? PERMISSION_MISSING names the scope the key lacks and what was
 * refused; an instance key is FORBIDDEN anything but reading (its logs too), starting, stopping or
 * destroying its instance.
 */
export function authorize(p: Principal, action: Action, resource: ResourceRef | null = null): void {
  if (p.scope === 'instance') {
    if (!INSTANCE_KEY_ACTIONS.has(action))
      throw new GantryError('FORBIDDEN', `An instance key may only read (its logs too), stop or destroy its own instance, not ${ACTION_WORDS[action]}.`, {
        action,
      });
    return; // which instance: authorizeInstance answers "not found" for any other
  }
  const scope = ACTION_SCOPES[action];
  if (!allows(p.scopes, scope, resource)) {
    const on = resource !== null ? ` (${resource.kind.replace('_', ' ')} ${resource.id})` : '';
    throw new GantryError('PERMISSION_MISSING', `This API key lacks the ${scope} permission${on}, needed to ${ACTION_WORDS[action]}.`, {
      scope,
      action,
    });
  }
}

/**
 * `authorize` for an action on one instance, then the instance itself: another tenant's instance,
 * or any instance but its own for an instance key, answers "not found", so existence does not leak.
 */
export function authorizeInstance(
  p: Principal,
  inst: InstanceRecord | undefined,
  id: number,
  action: 'instance.read' | 'instance.change' | 'instance.manage' | 'instance.ssh-keys',
): InstanceRecord {
  authorize(p, action, { kind: 'instance', id });
  const notFound = new GantryError('INSTANCE_NOT_FOUND', `No instance with id ${id}.`, { instanceId: id });
  if (inst === undefined || inst.status === 'destroyed') throw notFound;
  if (p.scope === 'instance') {
    if (p.instanceId !== inst.id) throw notFound;
    return inst;
  }
  if (inst.accountId !== p.accountId && !p.isAdmin) throw notFound;
  return inst;
}

/** `authorize`, then admin accounts only. */
export function authorizeAdmin(p: Principal, action: Action, resource: ResourceRef | null = null): void {
  authorize(p, action, resource);
  if (!p.isAdmin) throw new GantryError('ADMIN_ONLY', 'Only an admin account may do this.');
}

/** The engine acting for an account (the serverless loop, the billing loop): the account's rights, no key. */
export function systemPrincipal(accountId: number, username: string): Principal {
  return { accountId, username, isAdmin: false, scope: 'full', instanceId: null, keyId: null, actorId: accountId, scopes: ALL_PERMISSIONS };
}

/**
 * How far `p` may do each action: `all` (every resource), `some` (only resources its key's grant names,
 * or an instance key's own instance) or `none`. What a client (the console) offers follows this; the
 * use cases still check every call with `authorize`.
 */
export function actionReach(p: Principal): Readonly<Record<Action, 'all' | 'some' | 'none'>> {
  const out = {} as Record<Action, 'all' | 'some' | 'none'>;
  for (const action of Object.keys(ACTION_SCOPES) as Action[]) {
    if (p.scope === 'instance') out[action] = INSTANCE_KEY_ACTIONS.has(action) ? 'some' : 'none';
    else if (allows(p.scopes, ACTION_SCOPES[action], null)) out[action] = 'all';
    else out[action] = p.scopes.has(ACTION_SCOPES[action]) ? 'some' : 'none';
  }
  return out;
}
