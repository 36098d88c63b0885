import { randomBytes } from 'node:crypto';
import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { hashKey } from '../keys.js';
import { authorize, type Principal } from '../principal.js';
import type { HostTokenRecord } from '../../domain/machine/machine.js';

export function newHostToken(): string {
  return 'ght_' + randomBytes(24).toString('base64url');
}

/**
 * A host token lets one agent join as one machine of the caller's account: it is bound to the machine at
 * the agent's first hello and can do nothing but speak the agent protocol for it. Shown once, stored hashed.
 */
export async function createHostToken(ctx: ControlContext, p: Principal, name: string | null): Promise<{ token: string; record: HostTokenRecord }> {
  authorize(p, 'machine.write');
  if (name !== null && (name.length > 100 || /[\u0000-\u001f]/.test(name))) {
    throw new GantryError('INVALID_ARGUMENT', 'A host token name is at most 100 printable characters.');
  }
  const token = newHostToken();
  // Each token is a machine in every renter's search: an admin's fleet is unbounded, anyone else's is not.
  const maxLive = p.isAdmin ? 0 : ctx.settings.maxHostTokensPerAccount;
  const record = await ctx.store.createHostToken({ accountId: p.accountId, tokenHash: hashKey(token), name: name ?? 'host', now: ctx.clock.now(), maxLive });
  ctx.log.info({ tokenId: record.id, accountId: p.accountId }, 'host token created');
  return { token, record };
}

/** The embedded host's token: kept in the data dir so the same machine row is used across restarts. */
export async function ensureHostToken(ctx: ControlContext, accountId: number, token: string): Promise<void> {
  if (await ctx.store.findHostTokenByHash(hashKey(token))) return;
  await ctx.store.createHostToken({ accountId, tokenHash: hashKey(token), name: 'embedded host', now: ctx.clock.now() });
}
