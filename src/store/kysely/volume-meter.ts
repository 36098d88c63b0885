import type { Kysely, Transaction } from 'kysely';
import { transact } from './tx.js';
import { amountFor } from '../../domain/billing/meter.js';
import { volumePerHour } from '../../domain/volume/volume.js';
import type { Database } from './schema.js';
import { postCharge } from './meter.js';

type Trx = Transaction<Database>;

/** A volume's charges are rows of kind `volume`; `instance_id` holds the volume's id (the ledger's meter key). */
export const VOLUME_CHARGE_KIND = 'volume';

/**
 * Bill a volume as storage from its meter's start to `end` (compare-and-set on the start, so replicas settle each
 * stretch once): the renter pays the offer's host, one ledger row per volume per UTC day.
 */
export async function settleVolume(trx: Trx, volumeId: number, end: number): Promise<void> {
  const v = await trx
    .selectFrom('volumes')
    .innerJoin('volume_offers', 'volume_offers.id', 'volumes.offer_id')
    .select([
      'volumes.id',
      'volumes.account_id',
      'volumes.machine_id',
      'volumes.size_gb',
      'volumes.price_disk',
      'volumes.meter_since',
      'volume_offers.owner_id',
    ])
    .where('volumes.id', '=', volumeId)
    .where('volumes.deleted_at', 'is', null)
    .executeTakeFirst();
  if (v === undefined) return;
  const start = Number(v.meter_since);
  if (end <= start) return;
  const moved = await trx.updateTable('volumes').set({ meter_since: end }).where('id', '=', volumeId).where('meter_since', '=', start).executeTakeFirst();
  if (moved.numUpdatedRows === 0n) return; // another replica settled it
  const rate = volumePerHour({ sizeGb: Number(v.size_gb), priceDiskPerGbMonth: Number(v.price_disk) });
  const amount = amountFor(rate, end - start);
  const charge = { accountId: v.account_id, hostAccountId: v.owner_id, machineId: v.machine_id, subjectId: volumeId, kind: VOLUME_CHARGE_KIND };
  await postCharge(trx, { ...charge, start, end, rate, amount, fromBalance: amount });
}

export async function settleVolumeMeters(db: Kysely<Database>, now: number): Promise<void> {
  const due = await db.selectFrom('volumes').select('id').where('deleted_at', 'is', null).where('meter_since', '<', now).execute();
  for (const { id } of due) await transact(db, (trx) => settleVolume(trx, id, now));
}
