import type { Kysely, Transaction } from 'kysely';
import { transact } from './tx.js';
import { amountFor, daySpans } from '../../domain/billing/meter.js';
import { volumePerHour } from '../../domain/volume/volume.js';
import type { Database } from './schema.js';
import { postCharge } from './meter.js';
import { chargesUpTo, type OpenMeter } from '../../domain/billing/settle.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import { claimMeters, postCharges, VOLUME_METER_COLUMNS } from './charge-batch.js';
import { SETTLE_BATCH } from './meter-batch.js';

type Trx = Transaction<Database>;

/** A volume's charges are rows of kind `volume`; `instance_id` holds the volume's id (the ledger's meter key). */
export const VOLUME_CHARGE_KIND = 'volume';

/**
 * A clone is not billed until its host confirms the copy (`cloning_until` null): one given up is never billed.
 *
 * Bill a volume as storage from its meter's start to `end` (compare-and-set on the start, so replicas settle each
 * stretch once): the renter pays the offer's host, one ledger row per volume per UTC day.
 */
export async function settleVolume(trx: Trx, volumeId: number, end: number): Promise<void> {
  const v = await trx
    .selectFrom('volumes')
    .innerJoin('volume_offers', 'volume_offers.id', 'volumes.offer_id')
    .select(VOLUME_METER_COLUMNS)
    .where('volumes.id', '=', volumeId)
    .where('volumes.deleted_at', 'is', null)
    .where('volumes.cloning_until', 'is', null)
    .executeTakeFirst();
  if (v === undefined) return;
  const start = Number(v.meter_since);
  if (end <= start) return;
  const moved = await trx.updateTable('volumes').set({ meter_since: end }).where('id', '=', volumeId).where('meter_since', '=', start).executeTakeFirst();
  if (moved.numUpdatedRows === 0n) return; // another replica settled it
  const rate = volumePerHour({ sizeGb: Number(v.size_gb), priceDiskPerGbMonth: Number(v.price_disk) });
  const charge = { accountId: v.account_id, hostAccountId: v.owner_id, machineId: v.machine_id, subjectId: volumeId, kind: VOLUME_CHARGE_KIND };
  for (const [s, e] of daySpans(start, end)) {
    const amount = amountFor(rate, e - s);
    await postCharge(trx, { ...charge, start: s, end: e, rate, amount, fromBalance: amount });
  }
}

/**
 * Settle every live volume's meter up to `now`, a batch of volumes per transaction in a few statements
 * (see meter-batch.ts): the compare-and-set on each meter's start keeps concurrent replicas from
 * charging a stretch twice.
 */
export async function settleVolumeMeters(db: Kysely<Database>, d: StoreDialect, now: number): Promise<void> {
  let afterId = 0;
  for (;;) {
    const last = await transact(db, async (trx) => {
      let q = trx
        .selectFrom('volumes')
        .innerJoin('volume_offers', 'volume_offers.id', 'volumes.offer_id')
        .select(VOLUME_METER_COLUMNS)
        .where('volumes.id', '>', afterId)
        .where('volumes.deleted_at', 'is', null)
        .where('volumes.cloning_until', 'is', null)
        .where('volumes.meter_since', '<', now)
        .orderBy('volumes.id')
        .limit(SETTLE_BATCH);
      if (d.supportsSkipLocked) q = q.forNoKeyUpdate('volumes').skipLocked();
      const rows = await q.execute();
      const open: OpenMeter[] = rows.map((v) => ({
        subjectId: v.id,
        kind: VOLUME_CHARGE_KIND,
        accountId: v.account_id,
        hostAccountId: v.owner_id,
        machineId: v.machine_id,
        since: Number(v.meter_since),
        rate: volumePerHour({ sizeGb: Number(v.size_gb), priceDiskPerGbMonth: Number(v.price_disk) }),
      }));
      await postCharges(trx, d, chargesUpTo(await claimMeters(trx, d, 'volumes', 'meter_since', open, now), now));
      return rows.length < SETTLE_BATCH ? null : (rows.at(-1)?.id ?? null);
    });
    if (last === null) return;
    afterId = last;
  }
}
