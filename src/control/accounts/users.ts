import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { hashKey, newApiKey } from '../keys.js';
import { authorize, type Principal } from '../principal.js';
import { MAX_CREDIT_AMOUNT } from '../billing/billing.js';
import type { AccountRecord } from '../../domain/account/records.js';

export interface NewUserRequest {
  readonly username: string;
  readonly email: string | null;
  /** A subaccount of the caller (Vast's `parent_id: "me"`); otherwise a top-level account (admins only). */
  readonly subaccount: boolean;
  readonly hostOnly: boolean;
  /** Credit to start with: minted by an admin, or moved from the parent's balance. */
  readonly credit: number;
}

export interface CreatedUser {
  readonly account: AccountRecord;
  readonly keyId: number;
  /** Shown once; only its hash is stored. */
  readonly apiKey: string;
}

const USERNAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;
const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,190}$/;

export async function createUser(ctx: ControlContext, p: Principal, r: NewUserRequest): Promise<CreatedUser> {
  authorize(p, 'account.write');
  if (!r.subaccount && !p.isAdmin) {
    throw new GantryError('ADMIN_ONLY', 'Only an admin creates top-level accounts; send "parent_id": "me" to create a subaccount of your own.');
  }
  if (!USERNAME.test(r.username)) {
    throw new GantryError('INVALID_USERNAME', 'username: 1-64 letters, digits, ".", "_" or "-", starting with a letter or digit.', { field: 'username' });
  }
  const email = r.email ?? `${r.username}@localhost`;
  if (!EMAIL.test(email)) throw new GantryError('INVALID_EMAIL', `"${email}" is not an email address.`, { field: 'email' });
  if (!Number.isFinite(r.credit) || r.credit < 0) throw new GantryError('INVALID_ARGUMENT', 'credit must be a number ≥ 0.');
  if (r.credit > MAX_CREDIT_AMOUNT) throw new GantryError('INVALID_ARGUMENT', `credit must be at most ${MAX_CREDIT_AMOUNT.toLocaleString('en-US')}.`);
  // Credit for the new account moves money (from the parent's balance, or minted by an admin): a transfer, so billing_write as well.
  if (r.credit > 0) authorize(p, 'billing.write');
  if (await ctx.store.findAccountByEmail(email)) throw new GantryError('USER_EXISTS', `An account with the email ${email} exists already.`, { field: 'email' });
  const now = ctx.clock.now();
  const apiKey = newApiKey();
  const { account, key } = await ctx.store.createAccountWithKey(
    {
      username: r.username,
      email,
      isAdmin: false,
      parentId: r.subaccount ? p.accountId : null,
      hostOnly: r.hostOnly,
      now,
      maxInTree: p.isAdmin ? 0 : ctx.settings.maxSubaccountsPerAccount,
    },
    { keyHash: hashKey(apiKey), name: 'default', scope: 'full', instanceId: null, now },
    r.credit > 0 ? { from: p.isAdmin ? null : p.accountId, amount: r.credit, note: 'initial credit', now } : null,
  );
  ctx.log.info({ accountId: account.id, by: p.actorId, subaccount: r.subaccount }, 'account created');
  return { account, keyId: key.id, apiKey };
}

export async function listSubaccounts(ctx: ControlContext, p: Principal): Promise<{ account: AccountRecord; keyId: number | null }[]> {
  authorize(p, 'account.read');
  const subs = await ctx.store.listSubaccounts(p.accountId);
  return Promise.all(subs.map(async (a) => ({ account: a, keyId: (await ctx.store.listApiKeys(a.id))[0]?.id ?? null })));
}
