import type { ControlContext } from '../context.js';
import { hashKey, newApiKey } from '../keys.js';

/**
 * On first start, create the admin account and its key. Returns the plain key only when it was
 * created now (it is never stored in plain form).
 */
export async function bootstrapAdmin(ctx: ControlContext, presetKey: string | null): Promise<{ accountId: number; createdKey: string | null }> {
  const existing = await ctx.store.findAccountByUsername('admin');
  const now = ctx.clock.now();
  if (existing) {
    // A preset key given later is added, so automation that sets GANTRY_ADMIN_KEY keeps working.
    if (presetKey !== null && !(await ctx.store.findApiKeyByHash(hashKey(presetKey)))) {
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
  const account = await ctx.store.createAccount({ username: 'admin', email: 'admin@localhost', isAdmin: true, now });
  const key = presetKey ?? newApiKey();
  await ctx.store.createApiKey({ accountId: account.id, keyHash: hashKey(key), name: 'admin', scope: 'full', instanceId: null, now });
  ctx.log.info({ accountId: account.id }, 'created admin account');
  return { accountId: account.id, createdKey: key };
}
