import { GantryError } from '../../domain/errors.js';
import { OWNER_ROLE } from './authenticate.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import type { AuditRecord, AuditEntry } from '../../domain/account/records.js';

/**
 * Every state-changing call is written here by the API edge, whatever its result. The account's
 * admin (its own key, or a team owner) lists its entries and those of its subaccounts.
 */
export async function recordAudit(ctx: ControlContext, e: AuditEntry): Promise<void> {
  await ctx.store.recordAudit(e);
}

export async function listAudit(ctx: ControlContext, p: Principal, o: { limit: number; beforeId: number | null }): Promise<AuditRecord[]> {
  return ctx.store.listAudit(await auditedAccounts(ctx, p), o);
}

/** The accounts whose audit entries the caller may read: its own and its subaccounts' (a team's owners only). */
export async function auditedAccounts(ctx: ControlContext, p: Principal): Promise<number[]> {
  authorize(p, 'account.read');
  if (p.actorId !== p.accountId && (await ctx.store.memberRole(p.accountId, p.actorId)) !== OWNER_ROLE) {
    throw new GantryError('FORBIDDEN', "Only the team's owners may read its audit log.");
  }
  const subs = await ctx.store.listSubaccounts(p.accountId);
  return [p.accountId, ...subs.map((s) => s.id)];
}
