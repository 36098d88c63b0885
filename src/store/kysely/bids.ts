import type { Kysely } from 'kysely';
import { transact } from './tx.js';
import { GantryError } from '../../domain/errors.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import { settleInstance } from './meter.js';
import { rebalanceMachine } from './placement.js';
import { WAITING_MESSAGE, waitingForReleaseMessage } from '../../domain/instance/bids.js';
import type { Database } from './schema.js';

/** Bids, CPU capacity and reserved-instance deposits: the store side (see domain/instance/bids.ts). */
type Db = Kysely<Database>;

export async function allocatedCpu(db: Db): Promise<Map<number, { cores: number; ramMb: number }>> {
  const rows = await db
    .selectFrom('cpu_allocations')
    .select(['machine_id', (eb) => eb.fn.sum<number>('cpu_cores').as('cores'), (eb) => eb.fn.sum<number>('ram_mb').as('ram')])
    .groupBy('machine_id')
    .execute();
  return new Map(rows.map((r) => [r.machine_id, { cores: Number(r.cores), ramMb: Number(r.ram) }]));
}

/** Machines on which the account holds GPUs or vCPUs. */
export async function machinesRentedBy(db: Db, accountId: number): Promise<Set<number>> {
  const rows = await db
    .selectFrom('gpu_allocations')
    .innerJoin('instances', 'instances.id', 'gpu_allocations.instance_id')
    .select('gpu_allocations.machine_id')
    .where('instances.account_id', '=', accountId)
    .union((eb) =>
      eb
        .selectFrom('cpu_allocations')
        .innerJoin('instances', 'instances.id', 'cpu_allocations.instance_id')
        .select('cpu_allocations.machine_id')
        .where('instances.account_id', '=', accountId),
    )
    .execute();
  return new Set(rows.map((r) => r.machine_id));
}

function notFound(id: number): GantryError {
  return new GantryError('INSTANCE_NOT_FOUND', `No instance ${id}.`, { instanceId: id });
}

export async function changeBid(db: Db, d: StoreDialect, id: number, price: number, now: number): Promise<void> {
  await transact(db, async (trx) => {
    const row = await trx.selectFrom('instances').select(['machine_id', 'target', 'status']).where('id', '=', id).executeTakeFirst();
    if (!row || row.status === 'destroyed') throw notFound(id);
    // What ran so far is charged at the old price; the new one applies from now.
    await settleInstance(trx, id, now);
    await trx.updateTable('instances').set({ bid_price: price, dph_base: price }).where('id', '=', id).execute();
    if (row.target !== 'running') return;
    const plan = await rebalanceMachine(d, trx, row.machine_id, now);
    const waitsFor = plan.pending.get(id);
    const msg = waitsFor !== undefined ? waitingForReleaseMessage(waitsFor) : plan.outbid.has(id) ? WAITING_MESSAGE : null;
    if (msg !== null) await trx.updateTable('instances').set({ status_msg: msg }).where('id', '=', id).execute();
  });
}

export async function prepayInstance(db: Db, id: number, amount: number, discount: number, now: number): Promise<void> {
  await transact(db, async (trx) => {
    const row = await trx.selectFrom('instances').select(['account_id', 'status']).where('id', '=', id).executeTakeFirst();
    if (!row || row.status === 'destroyed') throw notFound(id);
    // What ran before the deposit is charged without its discount.
    await settleInstance(trx, id, now);
    // One conditional UPDATE: two prepayments racing cannot both spend the same credit.
    const r = await trx
      .updateTable('accounts')
      .set((eb) => ({ balance: eb('balance', '-', amount) }))
      .where('id', '=', row.account_id)
      .where('balance', '>=', amount)
      .executeTakeFirst();
    if (r.numUpdatedRows === 0n) throw new GantryError('INSUFFICIENT_CREDIT', `The credit balance is below the $${amount} to prepay.`, { amount });
    await trx
      .updateTable('instances')
      .set((eb) => ({ deposit: eb('deposit', '+', amount), deposit_discount: discount }))
      .where('id', '=', id)
      .execute();
  });
}

/** A destroyed instance's unspent deposit goes back to its account, in the destroy's transaction. */
export async function refundDeposit(trx: Db, id: number): Promise<void> {
  const row = await trx.selectFrom('instances').select(['account_id', 'deposit']).where('id', '=', id).executeTakeFirst();
  if (!row || row.deposit <= 0) return;
  await trx
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '+', row.deposit) }))
    .where('id', '=', row.account_id)
    .execute();
  await trx.updateTable('instances').set({ deposit: 0 }).where('id', '=', id).execute();
}
