import { GantryError } from '../domain/errors.js';
import type { ControlContext } from './context.js';
import { hashKey } from './keys.js';
import { requireAccountKey, type Principal } from './principal.js';
import type { AccountRecord } from '../store/store.js';

/** Resolve an API key to its principal; UNAUTHENTICATED for a missing, unknown or revoked key. */
export async function authenticate(ctx: ControlContext, key: string | null): Promise<Principal> {
  if (key === null || key === '') throw new GantryError('UNAUTHENTICATED', 'An API key is required: send "Authorization: Bearer <key>" or ?api_key=<key>.');
  const k = await ctx.store.findApiKeyByHash(hashKey(key));
  const account = k && (await ctx.store.getAccount(k.accountId));
  if (!k || !account) throw new GantryError('UNAUTHENTICATED', 'The API key is not valid.');
  return { accountId: account.id, username: account.username, isAdmin: account.isAdmin, scope: k.scope, instanceId: k.instanceId };
}

/** The account behind an account key (instance keys act on their instance only). */
export async function currentAccount(ctx: ControlContext, p: Principal): Promise<AccountRecord> {
  requireAccountKey(p);
  const a = await ctx.store.getAccount(p.accountId);
  if (!a) throw new GantryError('UNAUTHENTICATED', 'The account of this key no longer exists.');
  return a;
}
