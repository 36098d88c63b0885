import { GantryError } from '../../domain/errors.js';
import type { ChargeQuery } from '../../store/billing-store.js';
import type { ControlContext } from '../context.js';
import { authorizeInstance, authorize, type Principal } from '../principal.js';
import type { AccountRecord } from '../../domain/account/records.js';
import type { ChargeRecord, TransferRecord } from '../../domain/billing/records.js';

export type PeriodQuery = ChargeQuery;

/** Settled charges of the caller's account; meters are settled every billingIntervalMs. */
export async function listCharges(ctx: ControlContext, p: Principal, q: PeriodQuery): Promise<ChargeRecord[]> {
  authorize(p, 'billing.read');
  return ctx.store.listCharges(p.accountId, q);
}

/** The account's instances (destroyed ones too) that were serverless workers: their charges are Vast's `serverless` type. */
export async function workerInstanceIds(ctx: ControlContext, p: Principal): Promise<Set<number>> {
  authorize(p, 'billing.read');
  const all = await ctx.store.listInstances({ accountId: p.accountId, includeDestroyed: true });
  return new Set(all.filter((i) => i.endpointId !== null).map((i) => i.id));
}

export async function listTransfers(ctx: ControlContext, p: Principal, q: PeriodQuery): Promise<TransferRecord[]> {
  authorize(p, 'billing.read');
  return ctx.store.listTransfers(p.accountId, q);
}

/** The unspent credit prepaid into an instance (a reserved instance; see instances/bid-instance.ts), only to its owner. */
export async function instanceDeposit(ctx: ControlContext, p: Principal, id: number): Promise<{ refundable: number }> {
  const inst = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.read');
  return { refundable: inst.deposit };
}

async function resolveAccount(ctx: ControlContext, who: string): Promise<AccountRecord | undefined> {
  if (/^\d+$/.test(who)) return ctx.store.getAccount(Number(who));
  return (await ctx.store.findAccountByEmail(who)) ?? (await ctx.store.findAccountByUsername(who));
}

/** The most credit one transfer (or a new account's initial credit) moves, in dollars. */
export const MAX_CREDIT_AMOUNT = 1_000_000_000;

/**
 * Move credit to another account (by id, email or username). An admin's transfer adds credit (a
 * deposit: self-hosted Gantry has no payment processor); anyone else's moves it from their balance.
 */
export async function transferCredit(ctx: ControlContext, p: Principal, recipient: string, amount: number): Promise<TransferRecord> {
  authorize(p, 'billing.write');
  if (!Number.isFinite(amount) || amount < 0.01) throw new GantryError('INVALID_ARGUMENT', 'amount must be at least 0.01.', { field: 'amount' });
  // Bounded above too: balances are doubles, and 1e308 twice is Infinity, a balance no transfer can bring back (shown as null).
  if (amount > MAX_CREDIT_AMOUNT)
    throw new GantryError('INVALID_ARGUMENT', `amount must be at most ${MAX_CREDIT_AMOUNT.toLocaleString('en-US')}.`, { field: 'amount' });
  const to = await resolveAccount(ctx, recipient);
  if (!to || to.deletedAt !== null) throw new GantryError('RECIPIENT_NOT_FOUND', `No user ${recipient}.`, { field: 'recipient' });
  if (to.id === p.accountId && !p.isAdmin) throw new GantryError('SELF_TRANSFER', 'Credit cannot be sent to the same account.', { field: 'recipient' });
  const t = await ctx.store.transferCredit({
    from: p.isAdmin ? null : p.accountId,
    to: to.id,
    amount,
    note: p.isAdmin ? 'deposit' : 'transfer',
    now: ctx.clock.now(),
  });
  ctx.log.info({ from: t.fromAccountId, to: t.toAccountId, amount }, 'credit transferred');
  return t;
}

export interface Earnings {
  readonly account: AccountRecord;
  readonly charges: readonly ChargeRecord[];
}

/** What the caller's machines earned: each charge of an instance on them, renters' identities left out. */
export async function machineEarnings(ctx: ControlContext, p: Principal, userId: number, q: PeriodQuery): Promise<Earnings> {
  authorize(p, 'billing.read', { kind: 'user', id: userId });
  if (userId !== p.accountId && !p.isAdmin) throw new GantryError('ACCOUNT_NOT_FOUND', `No user ${userId}.`);
  const account = await ctx.store.getAccount(userId);
  if (!account) throw new GantryError('ACCOUNT_NOT_FOUND', `No user ${userId}.`);
  return { account, charges: await ctx.store.listEarnings(userId, q) };
}

/** A start or a rental needs credit; admins (who own the hardware) are never stopped for it. */
export async function requireCredit(ctx: ControlContext, p: Principal): Promise<void> {
  if (p.isAdmin) return;
  const a = await ctx.store.getAccount(p.accountId);
  if (a && !a.isAdmin && a.balance <= 0) {
    throw new GantryError('INSUFFICIENT_CREDIT', `The credit balance is $${a.balance.toFixed(2)}; ask an admin for credit (transfer_credit) first.`, {
      balance: a.balance,
    });
  }
}

export interface Statement {
  readonly account: AccountRecord;
  readonly charges: readonly ChargeRecord[];
  readonly transfers: readonly TransferRecord[];
}

/**
 * The caller's own charges and credit movements over a period (Vast's invoices): `userRef` is `me`
 * or the caller's id; another account is "not found", as for a made-up one.
 */
export async function statement(ctx: ControlContext, p: Principal, userRef: string | null, q: PeriodQuery & { charges: boolean }): Promise<Statement> {
  authorize(p, 'billing.read');
  if (userRef !== null && userRef !== 'me' && userRef !== String(p.accountId)) throw new GantryError('ACCOUNT_NOT_FOUND', `No user ${userRef}.`);
  const account = await ctx.store.getAccount(p.accountId);
  if (!account) throw new GantryError('ACCOUNT_NOT_FOUND', `No user ${p.accountId}.`);
  const charges = q.charges ? await ctx.store.listCharges(p.accountId, q) : [];
  const transfers = await ctx.store.listTransfers(p.accountId, q);
  return { account, charges, transfers };
}
