import type { Kysely, Selectable } from 'kysely';
import { transact } from './tx.js';
import { GantryError } from '../../domain/errors.js';
import type { MeterKind } from '../../domain/billing/meter.js';
import type { BillingStore, ChargeQuery } from '../billing-store.js';
import { settleInstance } from './meter.js';
import { SETTLE_BATCH, settleInstanceBatch } from './meter-batch.js';
import type { ChargeTable, Database, TransferTable } from './schema.js';
import { Repo } from './repo.js';
import type { ChargeRecord, TransferRecord } from '../../domain/billing/records.js';

function toCharge(r: Selectable<ChargeTable>): ChargeRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    hostAccountId: r.host_account_id,
    machineId: r.machine_id,
    instanceId: r.instance_id,
    kind: r.kind as MeterKind | 'volume',
    start: r.start_at,
    end: r.end_at,
    rate: r.rate,
    amount: r.amount,
  };
}

function toTransfer(r: Selectable<TransferTable>): TransferRecord {
  return { id: r.id, fromAccountId: r.from_account_id, toAccountId: r.to_account_id, amount: r.amount, note: r.note, at: r.at };
}

export interface CreditMove {
  readonly from: number | null;
  readonly to: number;
  readonly amount: number;
  readonly note: string | null;
  readonly now: number;
}

/** Move credit inside the caller's transaction (INSUFFICIENT_CREDIT rolls the whole transaction back). */
export async function moveCredit(trx: Kysely<Database>, t: CreditMove): Promise<TransferRecord> {
  if (t.from !== null) {
    // One conditional UPDATE: two transfers racing cannot both spend the same credit.
    const r = await trx
      .updateTable('accounts')
      .set((eb) => ({ balance: eb('balance', '-', t.amount) }))
      .where('id', '=', t.from)
      .where('balance', '>=', t.amount)
      .executeTakeFirst();
    if (r.numUpdatedRows === 0n) throw new GantryError('INSUFFICIENT_CREDIT', `The balance is below ${t.amount}.`, { amount: t.amount });
  }
  // A team deleted since its name was resolved takes no credit: it would be lost with it.
  const to = await trx
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '+', t.amount) }))
    .where('id', '=', t.to)
    .where('deleted_at', 'is', null)
    .executeTakeFirst();
  if (to.numUpdatedRows === 0n) throw new GantryError('RECIPIENT_NOT_FOUND', `No user ${t.to}.`, { field: 'recipient' });
  const row = await trx
    .insertInto('transfers')
    .values({ from_account_id: t.from, to_account_id: t.to, amount: t.amount, note: t.note, at: t.now })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toTransfer(row);
}

/** Billing queries: settling meters, charges, earnings, transfers. */
export class BillingRepo extends Repo implements BillingStore {
  async settleMeters(now: number): Promise<number> {
    let written = 0;
    const perRow: number[] = [];
    for (let afterId = 0; ;) {
      const b = await transact(this.db, (trx) => settleInstanceBatch(trx, this.dialect, afterId, SETTLE_BATCH, now));
      written += b.written;
      perRow.push(...b.perRow);
      if (b.lastId === null) break;
      afterId = b.lastId;
    }
    // Reserved instances: their deposit pays first, with its own row update; few, so one by one.
    for (const id of perRow) written += await transact(this.db, (trx) => settleInstance(trx, id, now));
    return written;
  }

  #charges(column: 'account_id' | 'host_account_id', accountId: number, q: ChargeQuery) {
    let s = this.db.selectFrom('charges').selectAll().where(column, '=', accountId).where('end_at', '>', q.from).where('start_at', '<', q.to);
    if (q.instanceId != null) s = s.where('instance_id', '=', q.instanceId);
    if (q.machineId != null) s = s.where('machine_id', '=', q.machineId);
    return s.orderBy('end_at', 'desc').orderBy('id', 'desc').limit(q.limit);
  }

  async listCharges(accountId: number, q: ChargeQuery): Promise<ChargeRecord[]> {
    return (await this.#charges('account_id', accountId, q).execute()).map(toCharge);
  }

  async listEarnings(hostAccountId: number, q: ChargeQuery): Promise<ChargeRecord[]> {
    return (await this.#charges('host_account_id', hostAccountId, q).execute()).map(toCharge);
  }

  async transferCredit(t: CreditMove): Promise<TransferRecord> {
    return transact(this.db, (trx) => moveCredit(trx, t));
  }

  async listTransfers(accountId: number, q: { readonly from: number; readonly to: number; readonly limit: number }): Promise<TransferRecord[]> {
    // The period is part of the query: the newest `limit` rows filtered afterwards would leave an older period empty.
    const rows = await this.db
      .selectFrom('transfers')
      .selectAll()
      .where((eb) => eb.or([eb('from_account_id', '=', accountId), eb('to_account_id', '=', accountId)]))
      .where('at', '>=', q.from)
      .where('at', '<=', q.to)
      .orderBy('id', 'desc')
      .limit(q.limit)
      .execute();
    return rows.map(toTransfer);
  }

  async instancesInDebt(): Promise<{ instanceId: number; accountId: number; balance: number }[]> {
    const rows = await this.db
      .selectFrom('instances')
      .innerJoin('accounts', 'accounts.id', 'instances.account_id')
      .select(['instances.id as instanceId', 'accounts.id as accountId', 'accounts.balance as balance'])
      .where('accounts.is_admin', '=', 0)
      .where('accounts.balance', '<=', 0)
      .where('instances.target', '=', 'running')
      .where('instances.status', '!=', 'destroyed')
      // A reserved instance's compute is paid from its deposit while one is left (only its storage is the balance's):
      // prepaying the whole balance must not stop the instance it paid for.
      .where('instances.deposit', '<=', 0)
      .execute();
    return rows;
  }
}
