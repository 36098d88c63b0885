import type { Kysely, Transaction } from 'kysely';
import { transact } from './tx.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { ObservationWrite } from '../store.js';
import * as bids from './bids.js';
import { syncMeters } from './meter.js';
import { rebalanceMachine, releaseCompute } from './placement.js';
import type { Database } from './schema.js';

/** What applying an observation did: nothing (the lease moved on), written, or written and compute given back. */
export type Applied = 'stale' | 'applied' | 'released';

/** Truth from one reconcile pass, applied only while the pass still holds the row's lease (see `Store.applyObservation`). */
export function applyObservation(db: Kysely<Database>, d: StoreDialect, id: number, leaseToken: string, o: ObservationWrite): Promise<Applied> {
  return transact(db, (trx) => applyIn(trx, d, id, leaseToken, o));
}

export async function applyIn(trx: Transaction<Database>, d: StoreDialect, id: number, leaseToken: string, o: ObservationWrite): Promise<Applied> {
  let q = trx
    .selectFrom('instances')
    .select(['status', 'observed_generation', 'generation', 'target', 'gpu_wait_since', 'machine_id'])
    .where('id', '=', id)
    .where('lease_token', '=', leaseToken);
  // The instance, then (when this write gives its GPUs back) its machine, both before any write: the order every
  // status write and charge takes. Writing the row twice (status, then meters) has PostgreSQL take a share lock on
  // the machine through the foreign key; two stops on one machine each holding that share while asking for the
  // placement lock deadlocked, again on every retry when nothing they charge (a free machine) ordered them first.
  // A select takes no foreign-key lock, so the machine's lock is the first this transaction holds on it.
  if (d.supportsSkipLocked) q = q.forNoKeyUpdate();
  const cur = await q.executeTakeFirst();
  if (!cur) return 'stale'; // the lease went to another replica: apply nothing from this pass
  let released = false;
  if (releasesCompute(cur, o.status) && d.supportsSkipLocked)
    await trx.selectFrom('machines').select('id').where('id', '=', cur.machine_id).forUpdate().execute();
  await trx.updateTable('instances').set(observedColumns(cur, o)).where('id', '=', id).execute();
  await syncMeters(trx, id, o.status, o.now);
  // GPUs go back only once the runtime confirmed nothing runs and nobody asked to run again (an outbid
  // instance still wants to run, but not on these GPUs); the strongest waiting claim gets them then.
  if (releasesCompute(cur, o.status)) {
    released = await releaseCompute(trx, id);
    await rebalanceMachine(d, trx, cur.machine_id, o.now);
  }
  if (o.status === 'destroyed') {
    await trx.deleteFrom('port_allocations').where('instance_id', '=', id).execute();
    await bids.refundDeposit(trx, id);
  }
  return released ? 'released' : 'applied';
}

/** The row as an observation finds it (read under the lease token). */
export interface ObservedRow {
  readonly status: string;
  readonly observed_generation: number;
  readonly generation: number;
  readonly target: string;
  readonly gpu_wait_since: number | null;
}

/** The columns an observation writes to its row: one rule for the write of one row and of many (observation-batch.ts). */
export function observedColumns(cur: ObservedRow, o: ObservationWrite) {
  const observed = Math.max(cur.observed_generation, o.observedGeneration);
  // An intent written during the pass (a stop with its reason: no credit, an admin's stop-all) is newer
  // than what the pass has to say: the pass's message would erase the reason, and the next pass
  // describes the new intent anyway. The status itself is still the runtime's truth.
  const msg = cur.generation > o.observedGeneration ? {} : { status_msg: o.statusMsg };
  return {
    status: o.status,
    ...msg,
    exit_code: o.exitCode,
    observed_generation: observed,
    last_processed_at: o.now,
    ...(o.status !== cur.status ? { status_changed_at: o.now } : {}),
    ...(o.startDate !== undefined ? { start_date: o.startDate } : {}),
    ...(o.pendingOpDone && observed >= cur.generation ? { pending_op: null } : {}),
    ...(o.status === 'destroyed' ? { destroyed_at: o.now } : {}),
  };
}

/**
 * GPUs go back only once the runtime confirmed nothing runs and nobody asked to run again (an outbid
 * instance still wants to run, but not on these GPUs); the strongest waiting claim gets them then.
 */
export function releasesCompute(cur: ObservedRow, status: string): boolean {
  const outbid = cur.gpu_wait_since !== null && cur.target === 'running';
  return (status === 'stopped' && (cur.target !== 'running' || outbid)) || (status === 'created' && outbid) || status === 'destroyed';
}
