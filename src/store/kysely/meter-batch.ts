import type { Transaction } from 'kysely';
import { chargesUpTo, instanceMeters, type OpenMeter } from '../../domain/billing/settle.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import { claimMeters, INSTANCE_METER_COLUMNS, postCharges } from './charge-batch.js';
import type { Database } from './schema.js';

type Trx = Transaction<Database>;

/** Instances per settling transaction: short enough that the rows it holds are not held for long. */
export const SETTLE_BATCH = 500;

export interface SettledBatch {
  /** The last instance id read, where the next batch starts; null once no more are due. */
  readonly lastId: number | null;
  /** Charges written. */
  readonly written: number;
  /** Reserved instances with an open compute meter: settled one by one (their deposit pays first). */
  readonly perRow: readonly number[];
}

/**
 * Settle the open meters of the next `limit` instances after `afterId`, in a few statements: one read,
 * one compare-and-set per meter kind, one charge extension per kind, one insert, one balance update.
 * On PostgreSQL the read takes the rows NO KEY UPDATE SKIP LOCKED: a row another settler (or a status
 * write) holds is left to it, so two settlers neither wait for each other nor deadlock; the
 * compare-and-set still decides who charges a stretch.
 */
export async function settleInstanceBatch(trx: Trx, d: StoreDialect, afterId: number, limit: number, now: number): Promise<SettledBatch> {
  let q = trx
    .selectFrom('instances')
    .leftJoin('machines', 'machines.id', 'instances.machine_id')
    .select(INSTANCE_METER_COLUMNS)
    .where('instances.id', '>', afterId)
    .where((eb) => eb.or([eb('instances.gpu_meter_since', '<', now), eb('instances.disk_meter_since', '<', now)]))
    .orderBy('instances.id')
    .limit(limit);
  if (d.supportsSkipLocked) q = q.forNoKeyUpdate('instances').skipLocked();
  const rows = await q.execute();
  const perRow: number[] = [];
  const bulk = rows.filter((r) => {
    const reserved = r.deposit > 0 && r.gpu_meter_since !== null && r.gpu_meter_since < now;
    if (reserved) perRow.push(r.id);
    return !reserved;
  });
  const open = instanceMeters(
    bulk.map((r) => ({
      id: r.id,
      accountId: r.account_id,
      hostAccountId: r.host_account_id,
      machineId: r.machine_id,
      dphBase: r.dph_base,
      storageCost: r.storage_cost,
      diskGb: r.disk_gb,
      gpuSince: r.gpu_meter_since,
      diskSince: r.disk_meter_since,
    })),
  ).filter((m) => m.since < now);
  const won: OpenMeter[] = [
    ...(await claimMeters(
      trx,
      d,
      'instances',
      'gpu_meter_since',
      open.filter((m) => m.kind === 'gpu'),
      now,
    )),
    ...(await claimMeters(
      trx,
      d,
      'instances',
      'disk_meter_since',
      open.filter((m) => m.kind === 'disk'),
      now,
    )),
  ];
  const charges = chargesUpTo(won, now);
  await postCharges(trx, d, charges);
  return { lastId: rows.length < limit ? null : (rows.at(-1)?.id ?? null), written: charges.length, perRow };
}
