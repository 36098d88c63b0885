import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { secretContext } from './vault.js';

const NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
const MAX_VALUE = 64 * 1024;
export const MAX_SECRETS = 200;

/** Vast upper-cases env var names. */
function nameOf(raw: string): string {
  const name = raw.trim().toUpperCase();
  if (!NAME.test(name)) throw new GantryError('INVALID_SECRET_NAME', 'key: letters, digits and "_", not starting with a digit.', { field: 'key' });
  return name;
}

function checkValue(v: string): void {
  if (v.length > MAX_VALUE) throw new GantryError('SECRET_TOO_LONG', `value: at most ${MAX_VALUE} characters.`, { field: 'value' });
}

export async function putSecret(ctx: ControlContext, p: Principal, rawName: string, value: string, mode: 'create' | 'update'): Promise<string> {
  authorize(p, 'account.write');
  const name = nameOf(rawName);
  checkValue(value);
  if (mode === 'create' && (await ctx.store.listSecrets(p.accountId)).length >= MAX_SECRETS) {
    throw new GantryError('SECRET_LIMIT', `An account holds at most ${MAX_SECRETS} env vars.`, { limit: MAX_SECRETS });
  }
  const { sealed, keyId } = ctx.vault.seal(value, secretContext(p.accountId, name));
  await ctx.store.putSecret({ accountId: p.accountId, name, sealed, keyId, now: ctx.clock.now() }, mode);
  return name;
}

export async function deleteSecret(ctx: ControlContext, p: Principal, rawName: string): Promise<void> {
  authorize(p, 'account.write');
  const name = nameOf(rawName);
  if (!(await ctx.store.deleteSecret(p.accountId, name))) throw new GantryError('SECRET_NOT_FOUND', `No env var named ${name}.`, { name });
}

/** Plain values, for their owner only (and for the workloads of the owner's instances). */
export async function secretEnv(ctx: ControlContext, accountId: number): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const s of await ctx.store.listSecrets(accountId)) out[s.name] = ctx.vault.open(s.sealed, secretContext(accountId, s.name));
  return out;
}

export async function listSecrets(ctx: ControlContext, p: Principal): Promise<Record<string, string>> {
  authorize(p, 'account.read');
  return secretEnv(ctx, p.accountId);
}

/**
 * After a key rotation: re-seal every secret still sealed with an older key. Safe from any replica
 * (compare-and-set per row); returns how many were re-sealed.
 */
export async function resealSecrets(ctx: ControlContext): Promise<number> {
  let done = 0;
  for (;;) {
    const batch = await ctx.store.secretsNotSealedWith(ctx.vault.currentKeyId, 100);
    if (batch.length === 0) return done;
    const before = done;
    for (const s of batch) {
      const context = secretContext(s.accountId, s.name);
      const next = ctx.vault.seal(ctx.vault.open(s.sealed, context), context);
      if (await ctx.store.resealSecret(s.id, s.sealed, next.sealed, next.keyId)) done++;
    }
    // Every row of the batch lost to a concurrent write (a replica still on the old key file): stop, the next start retries.
    if (done === before) return done;
  }
}
