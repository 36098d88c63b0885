import type { Kysely, Transaction } from 'kysely';
import { amountFor } from '../../domain/billing/meter.js';
import { volumePerHour } from '../../domain/volume/volume.js';
import type { Database } from './schema.js';

type Trx = Transaction<Database>;

/** A volume's charges are rows of kind `volume`; `instance_id` holds the volume's id (the ledger's meter key). */
export const VOLUME_CHARGE_KIND = 'volume';
const DAY_MS = 86_400_000;

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
  const extended = await trx
    .updateTable('charges')
    .set((eb) => ({ end_at: end, amount: eb('amount', '+', amount) }))
    .where('instance_id', '=', volumeId)
    .where('kind', '=', VOLUME_CHARGE_KIND)
    .where('end_at', '=', start)
    .where('start_at', '>=', Math.floor(end / DAY_MS) * DAY_MS)
    .executeTakeFirst();
  if (extended.numUpdatedRows === 0n) {
    await trx
      .insertInto('charges')
      .values({
        account_id: v.account_id,
        host_account_id: v.owner_id,
        machine_id: v.machine_id,
        instance_id: volumeId,
        kind: VOLUME_CHARGE_KIND,
        start_at: start,
        end_at: end,
        rate,
        amount,
      })
      .execute();
  }
  if (amount === 0) return;
  await trx
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '-', amount) }))
    .where('id', '=', v.account_id)
    .execute();
  await trx
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '+', amount) }))
    .where('id', '=', v.owner_id)
    .execute();
}

/** Settle every live volume's meter up to `now`, one short transaction each. */
export async function settleVolumeMeters(db: Kysely<Database>, now: number): Promise<void> {
  const due = await db.selectFrom('volumes').select('id').where('deleted_at', 'is', null).where('meter_since', '<', now).execute();
  for (const { id } of due) await db.transaction().execute((trx) => settleVolume(trx, id, now));
}
