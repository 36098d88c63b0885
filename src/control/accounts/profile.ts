import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { hashKey, newApiKey } from '../keys.js';
import { authorize, type Principal } from '../principal.js';
import { auditedAccounts } from './audit.js';
import { createSshKey, listSshKeys } from './ssh-keys.js';
import type { AccountRecord } from '../../domain/account/records.js';
import type { KeyView } from './api-keys.js';
import { keyViews } from './api-keys.js';

/** What an account may change about itself (Vast's `set user`); absent fields stay as they are. */
export interface ProfileChange {
  readonly email?: string;
  /** null clears it (the username is shown instead). */
  readonly fullname?: string | null;
  /** An OpenSSH public key to add to the account's SSH keys (kept once). */
  readonly sshKey?: string;
  /** Fields the caller named that Gantry does not keep or change (the whole change is refused). */
  readonly unsupported?: readonly string[];
}

/** An account named as Vast's clients name it (`me`, or its id): the caller's own, else "not found". */
export function ownAccount(p: Principal, ref: string | number | null): number {
  if (ref === null || ref === 'me' || String(ref) === String(p.accountId)) return p.accountId;
  throw new GantryError('ACCOUNT_NOT_FOUND', `No user ${String(ref)}.`);
}

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}$/;
// A name with control characters would garble every table it is shown in.
const FULLNAME = /^[^\u0000-\u001f\u007f]{1,200}$/;

/** Change the caller's own account: `userId` null or the caller's id (another account is "not found"). */
export async function updateProfile(ctx: ControlContext, p: Principal, userRef: string | null, c: ProfileChange): Promise<AccountRecord> {
  authorize(p, 'account.write');
  ownAccount(p, userRef);
  if (c.unsupported !== undefined && c.unsupported.length > 0) {
    throw new GantryError(
      'USER_FIELD_NOT_SUPPORTED',
      `Gantry does not keep or change ${c.unsupported.join(', ')}: it has no payments, payouts or phone verification, and a username is fixed. It sets email, fullname and ssh_key.`,
      { fields: c.unsupported },
    );
  }
  if (c.email !== undefined && !EMAIL.test(c.email)) throw new GantryError('INVALID_EMAIL', `"${c.email}" is not an email address.`, { field: 'email' });
  if (c.fullname !== undefined && c.fullname !== null && !FULLNAME.test(c.fullname)) {
    throw new GantryError('INVALID_ARGUMENT', "'fullname' must be 1-200 printable characters.", { field: 'fullname' });
  }
  if (c.email !== undefined) {
    // Checked before the SSH key is added, so a taken email changes nothing.
    const other = await ctx.store.findAccountByEmail(c.email);
    if (other && other.id !== p.accountId) throw new GantryError('USER_EXISTS', `An account with the email ${c.email} exists already.`, { field: 'email' });
  }
  if (c.sshKey !== undefined) {
    const have = await listSshKeys(ctx, p);
    if (!have.some((k) => k.publicKey === c.sshKey?.trim())) await createSshKey(ctx, p, c.sshKey);
  }
  const a = await ctx.store.updateAccountProfile(p.accountId, {
    ...(c.email !== undefined ? { email: c.email } : {}),
    ...(c.fullname !== undefined ? { fullname: c.fullname } : {}),
  });
  ctx.log.info({ accountId: a.id, by: p.actorId, fields: Object.keys(c) }, 'account profile changed');
  return a;
}

/**
 * A new secret for the key that makes the call (Vast's `reset api-key`): same id, name and permissions;
 * the old secret stops working at once. The plain key is returned once.
 */
export async function resetApiKey(ctx: ControlContext, p: Principal, clientRef: string | null): Promise<{ id: number; key: string }> {
  authorize(p, 'account.write');
  ownAccount(p, clientRef);
  if (p.keyId === null) throw new GantryError('FORBIDDEN', 'Only a call made with an API key can reset it.');
  const key = newApiKey();
  if (!(await ctx.store.rotateApiKey(p.keyId, p.actorId, hashKey(key)))) {
    throw new GantryError('API_KEY_NOT_FOUND', `No API key with id ${p.keyId}.`, { keyId: p.keyId });
  }
  ctx.log.info({ keyId: p.keyId, by: p.actorId }, 'api key reset');
  return { id: p.keyId, key };
}

/** One key the caller holds (the plain key is never kept, so it is not shown). */
export async function showApiKey(ctx: ControlContext, p: Principal, id: number): Promise<KeyView> {
  authorize(p, 'account.read', { kind: 'api_key', id });
  const found = (await keyViews(ctx, p)).find((v) => v.key.id === id);
  if (!found) throw new GantryError('API_KEY_NOT_FOUND', `No API key with id ${id}.`, { keyId: id });
  return found;
}

/** The addresses the account's (and its subaccounts') changes came from: every non-GET call is audited. */
export async function listAddresses(
  ctx: ControlContext,
  p: Principal,
  userRef: string | null,
  limit: number,
): Promise<{ ip: string; firstSeen: number; lastSeen: number }[]> {
  const accounts = await auditedAccounts(ctx, p);
  ownAccount(p, userRef);
  return ctx.store.listAuditAddresses(accounts, limit);
}

/** Vast's cloud connections (S3, GCS, … for cloud copy): a self-hosted Gantry keeps none. */
export function listCloudConnections(_ctx: ControlContext, p: Principal): Promise<never[]> {
  authorize(p, 'account.read');
  return Promise.resolve([]);
}

/**
 * Vast's scheduled jobs (repeat a call hourly, daily or weekly): Gantry runs none, so the list is
 * empty, an id is not found, and a new one is refused with the reason.
 */
export function listScheduledJobs(_ctx: ControlContext, p: Principal): Promise<never[]> {
  authorize(p, 'account.read');
  return Promise.resolve([]);
}

export function changeScheduledJob(_ctx: ControlContext, p: Principal, id: number | null): Promise<never> {
  authorize(p, 'account.write', id === null ? null : { kind: 'scheduled_job', id });
  if (id !== null) throw new GantryError('SCHEDULED_JOB_NOT_FOUND', `No scheduled job with id ${id}: Gantry keeps none.`, { jobId: id });
  throw new GantryError('SCHEDULED_JOBS_NOT_SUPPORTED', 'Gantry runs no scheduled jobs: repeat the command with cron or a loop instead.');
}
