import type { Kysely, Transaction } from 'kysely';
import { transact } from './tx.js';
import { GantryError } from '../../domain/errors.js';
import type { MachineDeletion } from '../store.js';
import { refundDeposit } from './bids.js';
import { syncMeters } from './meter.js';
import { releaseCompute } from './placement.js';
import type { Database } from './schema.js';
import { settleVolume } from './volume-meter.js';

/** Thrown inside the transaction to roll back the delete mark when other accounts still rent something. */
class InUse extends Error {
  constructor(
    readonly instanceIds: number[],
    readonly volumeIds: number[],
  ) {
    super('machine in use');
  }
}

/**
 * `delete machine`, one transaction. The machine row is marked first: createInstance locks that row too, so a
 * rental racing the delete either commits before (and is seen below, blocking it) or finds the machine deleted.
 * Other accounts' instances (any status but destroyed, unless their destroy is pending) and live volumes block
 * it; the owner's own instances and volumes, and destroys that waited for the gone host, end with it.
 */
export async function deleteMachine(db: Kysely<Database>, id: number, now: number, note: string): Promise<MachineDeletion> {
  try {
    return await transact(db, async (trx) => {
      const m = await trx.selectFrom('machines').select(['owner_id', 'host_key']).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      if (!m) throw new GantryError('MACHINE_NOT_FOUND', `No machine with id ${id}.`, { machineId: id });
      // The host key is freed (kept readable in the row): the same host may join again, as a new machine, with a new token.
      await trx
        .updateTable('machines')
        .set({ deleted_at: now, listed: 0, host_key: `deleted:${id}:${m.host_key}` })
        .where('id', '=', id)
        .execute();
      const insts = await trx
        .selectFrom('instances')
        .select(['id', 'account_id', 'target'])
        .where('machine_id', '=', id)
        .where('status', '!=', 'destroyed')
        .orderBy('id')
        .execute();
      const vols = await trx
        .selectFrom('volumes')
        .select(['id', 'account_id'])
        .where('machine_id', '=', id)
        .where('deleted_at', 'is', null)
        .orderBy('id')
        .execute();
      const clientInsts = insts.filter((i) => i.account_id !== m.owner_id && i.target !== 'deleted').map((i) => i.id);
      const clientVols = vols.filter((v) => v.account_id !== m.owner_id).map((v) => v.id);
      if (clientInsts.length > 0 || clientVols.length > 0) throw new InUse(clientInsts, clientVols);
      for (const i of insts) await destroyWithMachine(trx, i.id, now, note);
      for (const v of vols) {
        await settleVolume(trx, v.id, now);
        await trx.updateTable('volumes').set({ deleted_at: now }).where('id', '=', v.id).execute();
      }
      await trx.updateTable('volume_offers').set({ listed: 0 }).where('machine_id', '=', id).execute();
      // Its agent can no longer say hello: a later hello with one of these is refused as MACHINE_DELETED.
      await trx.updateTable('host_tokens').set({ revoked_at: now }).where('machine_id', '=', id).where('revoked_at', 'is', null).execute();
      return { deleted: true as const, destroyedIds: insts.map((i) => i.id), volumeIds: vols.map((v) => v.id) };
    });
  } catch (err) {
    if (err instanceof InUse) return { deleted: false, instanceIds: err.instanceIds, volumeIds: err.volumeIds };
    throw err;
  }
}

/** What a confirmed destroy writes (kysely-store applyObservation), without a host to confirm it: the host is gone. */
async function destroyWithMachine(trx: Transaction<Database>, id: number, now: number, note: string): Promise<void> {
  await trx
    .updateTable('instances')
    // A new generation, observed at once: an intent read before this commit (a start, a stop) finds it moved and
    // is decided again (refused: destroyed) instead of writing its target over the tombstone.
    .set((eb) => ({
      target: 'deleted',
      generation: eb('generation', '+', 1),
      observed_generation: eb('generation', '+', 1),
      status: 'destroyed',
      status_msg: note,
      status_changed_at: now,
      destroyed_at: now,
      last_processed_at: now,
      pending_op: null,
      gpu_wait_since: null,
      lease_owner: null,
      lease_token: null,
      lease_expires_at: null,
    }))
    .where('id', '=', id)
    .execute();
  await syncMeters(trx, id, 'destroyed', now);
  await releaseCompute(trx, id);
  await trx.deleteFrom('port_allocations').where('instance_id', '=', id).execute();
  await refundDeposit(trx, id);
}
