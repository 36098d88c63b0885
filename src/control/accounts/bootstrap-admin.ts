import { GantryError, isGantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { hashKey, newApiKey } from '../keys.js';

/**
 * On first start, create the admin account and its key. Returns the plain key only when it was
 * created now (it is never stored in plain form). `makeKey` gives the new key when none is preset:
 * `gantry up` keeps it in its key file first, and the account and its key are written in one
 * transaction, so a start cut anywhere leaves no admin (the next start makes it, with the key the file
 * already holds) or an admin whose key is in the file, never an admin whose key nobody was given.
 */
export async function bootstrapAdmin(
  ctx: ControlContext,
  presetKey: string | null,
  makeKey: () => Promise<string> = () => Promise.resolve(newApiKey()),
): Promise<{ accountId: number; createdKey: string | null }> {
  const existing = await ctx.store.findAccountByUsername('admin');
  const now = ctx.clock.now();
  if (existing) {
    // A preset key given later is added, so automation that sets GANTRY_ADMIN_KEY keeps working.
    if (presetKey !== null && !(await ctx.store.findApiKeyByHash(hashKey(presetKey)))) {
      // A key deleted through the API stays deleted (it may have leaked): it is not made again at a restart.
      if (await ctx.store.findApiKeyByHash(hashKey(presetKey), { revoked: true })) {
        throw new GantryError(
          'INVALID_ARGUMENT',
          'GANTRY_ADMIN_KEY names an API key that was deleted, and a deleted key stays deleted: unset GANTRY_ADMIN_KEY, or set it to a new key.',
          { field: 'GANTRY_ADMIN_KEY' },
        );
      }
      await ctx.store.createApiKey({
        accountId: existing.id,
        keyHash: hashKey(presetKey),
        name: 'admin (GANTRY_ADMIN_KEY)',
        scope: 'full',
        instanceId: null,
        now,
      });
    }
    return { accountId: existing.id, createdKey: null };
  }
  const key = presetKey ?? (await makeKey());
  try {
    const { account } = await ctx.store.createAccountWithKey(
      { username: 'admin', email: 'admin@localhost', isAdmin: true, now },
      { keyHash: hashKey(key), name: 'admin', scope: 'full', instanceId: null, now },
      null,
    );
    ctx.log.info({ accountId: account.id }, 'created admin account');
    return { accountId: account.id, createdKey: key };
  } catch (err) {
    // Another replica's first start made it meanwhile (one PostgreSQL): this start is a later one.
    if (isGantryError(err) && err.code === 'USER_EXISTS') return bootstrapAdmin(ctx, presetKey, makeKey);
    throw err;
  }
}
