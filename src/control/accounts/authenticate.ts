import { ALL_PERMISSIONS, intersect, parsePermissions, type Permissions } from '../../domain/account/permissions.js';
import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { hashKey } from '../keys.js';
import { authorize, type Principal } from '../principal.js';
import type { ApiKeyRecord, AccountRecord } from '../../domain/account/records.js';

/** The role every team's creator holds: all permissions, not stored as a row. */
export const OWNER_ROLE = 'owner';

/** Resolve an API key to its principal (remembered until its account's credentials change); UNAUTHENTICATED for a missing, unknown or revoked key. */
export async function authenticate(ctx: ControlContext, key: string | null): Promise<Principal> {
  if (key === null || key === '') throw new GantryError('UNAUTHENTICATED', 'An API key is required: send "Authorization: Bearer <key>" or ?api_key=<key>.');
  const hash = hashKey(key);
  return ctx.principals.resolve(`h:${hash}`, async () => principalOf(ctx, await ctx.store.findKeyWithAccount(hash), 'The API key is not valid.'));
}

/** The principal of a live key named by id (what an access token carries); UNAUTHENTICATED once the key is revoked. */
export async function authenticateKeyId(ctx: ControlContext, keyId: number): Promise<Principal> {
  return ctx.principals.resolve(`id:${keyId}`, async () =>
    principalOf(ctx, await ctx.store.findKeyWithAccountById(keyId), 'The access token is not valid: its key was revoked.'),
  );
}

async function principalOf(ctx: ControlContext, found: { key: ApiKeyRecord; account: AccountRecord } | undefined, invalid: string): Promise<Principal> {
  if (!found || found.account.deletedAt !== null) throw new GantryError('UNAUTHENTICATED', invalid);
  const { key: k, account } = found;
  return {
    accountId: account.id,
    username: account.username,
    isAdmin: account.isAdmin,
    scope: k.scope,
    instanceId: k.instanceId,
    keyId: k.id,
    actorId: k.memberId ?? account.id,
    scopes: await permissionsOf(ctx, k),
  };
}

/** A key's grants; a team key's are narrowed by the member's current role, so a role change applies at once. */
async function permissionsOf(ctx: ControlContext, k: ApiKeyRecord): Promise<Permissions> {
  const own = k.permissions === null ? ALL_PERMISSIONS : parsePermissions(k.permissions);
  if (k.memberId === null) return own;
  const role = await ctx.store.memberRole(k.accountId, k.memberId);
  if (role === undefined) throw new GantryError('UNAUTHENTICATED', 'The API key is not valid: its holder left the team.');
  if (role === OWNER_ROLE) return own;
  const r = await ctx.store.getTeamRole(k.accountId, role);
  return intersect(own, r === undefined ? new Map() : parsePermissions(r.permissions));
}

/** The account behind an account key (instance keys act on their instance only). */
export async function currentAccount(ctx: ControlContext, p: Principal): Promise<AccountRecord> {
  authorize(p, 'account.read');
  const a = await ctx.store.getAccount(p.accountId);
  if (!a) throw new GantryError('UNAUTHENTICATED', 'The account of this key no longer exists.');
  return a;
}
