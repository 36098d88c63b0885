import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { secretContext } from './vault.js';
import { envEntryBytes, envValueReason, MAX_ENV_TOTAL_BYTES, MAX_ENV_VALUE_BYTES, reservedEnvReason } from '../../domain/instance/env-rules.js';

const NAME = /^[A-Z_][A-Z0-9_]{0,127}$/;
export const MAX_SECRETS = 200;

/** Vast upper-cases env var names. */
function nameOf(raw: string): string {
  const name = raw.trim().toUpperCase();
  if (!NAME.test(name)) throw new GantryError('INVALID_SECRET_NAME', 'key: letters, digits and "_", not starting with a digit.', { field: 'key' });
  return name;
}

/** A name the workload's runtime or Gantry sets (PATH, LD_*, CONTAINER_API_KEY…) would break or spoof every start. */
function writableName(raw: string): string {
  const name = nameOf(raw);
  const why = reservedEnvReason(name);
  if (why !== null) throw new GantryError('INVALID_SECRET_NAME', `key: ${why}`, { field: 'key' });
  return name;
}

/** Every secret goes into every start of the account's instances: it must be something a process can be given. */
async function checkValue(ctx: ControlContext, accountId: number, name: string, v: string): Promise<void> {
  if (envValueReason(name, v) !== null) {
    if (v.includes('\0')) throw new GantryError('INVALID_SECRET_VALUE', 'value: a NUL byte cannot be passed in a process environment.', { field: 'value' });
    throw new GantryError('SECRET_TOO_LONG', `value: at most ${MAX_ENV_VALUE_BYTES} bytes.`, { field: 'value' });
  }
  let total = envEntryBytes(name, v);
  for (const [k, other] of Object.entries(await secretEnv(ctx, accountId))) if (k !== name) total += envEntryBytes(k, other);
  if (total > MAX_ENV_TOTAL_BYTES)
    throw new GantryError('SECRET_TOO_LONG', `value: an account's env vars hold at most ${MAX_ENV_TOTAL_BYTES} bytes in all.`, { field: 'value' });
}

export async function putSecret(ctx: ControlContext, p: Principal, rawName: string, value: string, mode: 'create' | 'update'): Promise<string> {
  authorize(p, 'account.write');
  const name = writableName(rawName);
  await checkValue(ctx, p.accountId, name, value);
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

/** The names only, never opened: for views that must not show a value back (the web console). */
export async function listSecretNames(ctx: ControlContext, p: Principal): Promise<string[]> {
  authorize(p, 'account.read');
  return (await ctx.store.listSecrets(p.accountId)).map((s) => s.name);
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
