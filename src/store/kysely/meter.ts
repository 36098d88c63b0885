import type { Transaction } from 'kysely';
import { amountFor, daySpans, METER_KINDS, meters, ratesOf, type MeterKind } from '../../domain/billing/meter.js';
import type { InstanceStatus } from '../../domain/instance/status.js';
import type { Database } from './schema.js';
import { chargeRow, INSTANCE_METER_COLUMNS } from './charge-batch.js';

type Trx = Transaction<Database>;
const COLUMN = { gpu: 'gpu_meter_since', disk: 'disk_meter_since' } as const satisfies Record<MeterKind, string>;

const DAY_MS = 86_400_000;

interface MeterRow {
  id: number;
  account_id: number;
  machine_id: number;
  host_account_id: number | null;
  dph_base: number;
  storage_cost: number;
  disk_gb: number;
  deposit: number;
  deposit_discount: number | null;
}

/**
 * Book one settled stretch of a meter and move the money: the renter's balance goes down, the
 * machine owner's goes up, in the caller's transaction. A stretch that continues the meter's last
 * row (a periodic settle, same UTC day) extends that row, so the ledger holds one row per run of a
 * meter per day, not one per billing interval; a stretch across midnight is booked per day (`daySpans`).
 */
async function charge(trx: Trx, i: MeterRow, kind: MeterKind, start: number, end: number): Promise<void> {
  for (const [s, e] of daySpans(start, end)) await chargeDay(trx, i, kind, s, e);
}

async function chargeDay(trx: Trx, i: MeterRow, kind: MeterKind, start: number, end: number): Promise<void> {
  const rate = ratesOf({ dphBase: i.dph_base, storageCost: i.storage_cost, diskGb: i.disk_gb })[kind];
  let amount = amountFor(rate, end - start);
  let fromBalance = amount;
  if (kind === 'gpu' && i.deposit > 0) {
    // Reserved: compute is paid from the prepaid deposit first, at the discount it earned.
    const discounted = amount * (1 - (i.deposit_discount ?? 0));
    const used = Math.min(i.deposit, discounted);
    fromBalance = discounted > 0 ? amount * (1 - used / discounted) : 0;
    amount = used + fromBalance;
    i.deposit -= used;
    await trx
      .updateTable('instances')
      .set((eb) => ({ deposit: eb('deposit', '-', used) }))
      .where('id', '=', i.id)
      .execute();
  }
  const hostAccountId = i.host_account_id ?? i.account_id;
  await postCharge(trx, { accountId: i.account_id, hostAccountId, machineId: i.machine_id, subjectId: i.id, kind, start, end, rate, amount, fromBalance });
}

/** One metered span within one UTC day: extends that day's charge row of the same subject, kind and rate (or adds one), then moves the money. */
export async function postCharge(
  trx: Trx,
  c: {
    accountId: number;
    hostAccountId: number;
    machineId: number;
    /** The instance (or, for kind `volume`, the volume) charged for. */
    subjectId: number;
    kind: string;
    start: number;
    end: number;
    rate: number;
    amount: number;
    /** What the renter's balance pays (less than `amount` when a deposit paid part). */
    fromBalance: number;
  },
): Promise<void> {
  const extended = await trx
    .updateTable('charges')
    .set((eb) => ({ end_at: c.end, amount: eb('amount', '+', c.amount) }))
    .where('instance_id', '=', c.subjectId)
    .where('kind', '=', c.kind)
    .where('end_at', '=', c.start)
    .where('rate', '=', c.rate)
    .where('start_at', '>=', Math.floor(c.start / DAY_MS) * DAY_MS)
    .executeTakeFirst();
  if (extended.numUpdatedRows === 0n) {
    await trx.insertInto('charges').values(chargeRow(c)).execute();
  }
  if (c.amount === 0) return;
  await trx
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '-', c.fromBalance) }))
    .where('id', '=', c.accountId)
    .execute();
  await trx
    .updateTable('accounts')
    .set((eb) => ({ balance: eb('balance', '+', c.amount) }))
    .where('id', '=', c.hostAccountId)
    .execute();
}

function selectMeterRow(trx: Trx, id: number) {
  return trx
    .selectFrom('instances')
    .leftJoin('machines', 'machines.id', 'instances.machine_id')
    .select(INSTANCE_METER_COLUMNS)
    .where('instances.id', '=', id)
    .executeTakeFirst();
}

/**
 * Open or close the instance's meters for its new status at `now`, the moment the runtime's report was
 * taken. Called in the same transaction as every status write, so a charge boundary is exactly a
 * recorded transition, whatever replica wrote it and however often the control plane restarted.
 */
export async function syncMeters(trx: Trx, id: number, status: InstanceStatus, now: number): Promise<void> {
  const row = await selectMeterRow(trx, id);
  if (!row) return;
  const want = meters(status);
  for (const kind of METER_KINDS) {
    const since = row[COLUMN[kind]];
    if (want[kind] && since === null) {
      await trx
        .updateTable('instances')
        .set({ [COLUMN[kind]]: now })
        .where('id', '=', id)
        .execute();
    } else if (!want[kind] && since !== null) {
      if (since > now) await refundPast(trx, row, kind, now);
      await charge(trx, row, kind, since, now);
      await trx
        .updateTable('instances')
        .set({ [COLUMN[kind]]: null })
        .where('id', '=', id)
        .execute();
    }
  }
}

/**
 * A meter closed at a time its periodic settle already went past gives back what was charged after it.
 * That happens when the record of a confirmed stop or exit is written late: its first write failed (the
 * database gone at that moment) and the reconciler applied it again at the time the runtime's report was
 * taken (`unwritten-looks.ts`), while a billing pass had settled the meter up to a later time meanwhile.
 * A reserved instance's compute was paid partly from its deposit at a discount, by a share no charge row
 * keeps: its rows are left as they are.
 */
async function refundPast(trx: Trx, i: MeterRow, kind: MeterKind, end: number): Promise<void> {
  if (kind === 'gpu' && (i.deposit > 0 || i.deposit_discount !== null)) return;
  const rows = await trx
    .selectFrom('charges')
    .select(['id', 'account_id', 'host_account_id', 'start_at', 'end_at', 'rate', 'amount'])
    .where('instance_id', '=', i.id)
    .where('kind', '=', kind)
    .where('end_at', '>', end)
    .execute();
  for (const r of rows) {
    const whole = r.start_at >= end;
    const back = whole ? r.amount : Math.min(r.amount, amountFor(r.rate, r.end_at - end));
    if (whole) await trx.deleteFrom('charges').where('id', '=', r.id).execute();
    else
      await trx
        .updateTable('charges')
        .set((eb) => ({ end_at: end, amount: eb('amount', '-', back) }))
        .where('id', '=', r.id)
        .execute();
    if (back === 0) continue;
    await trx
      .updateTable('accounts')
      .set((eb) => ({ balance: eb('balance', '+', back) }))
      .where('id', '=', r.account_id)
      .execute();
    await trx
      .updateTable('accounts')
      .set((eb) => ({ balance: eb('balance', '-', back) }))
      .where('id', '=', r.host_account_id)
      .execute();
  }
}

/** Charge the open meters of one instance up to `now`; compare-and-set on each meter's start. */
export async function settleInstance(trx: Trx, id: number, now: number): Promise<number> {
  const row = await selectMeterRow(trx, id);
  if (!row) return 0;
  let written = 0;
  for (const kind of METER_KINDS) {
    const since = row[COLUMN[kind]];
    if (since === null || since >= now) continue;
    const r = await trx
      .updateTable('instances')
      .set({ [COLUMN[kind]]: now })
      .where('id', '=', id)
      .where(COLUMN[kind], '=', since)
      .executeTakeFirst();
    if (r.numUpdatedRows === 0n) continue; // another replica settled it first
    await charge(trx, row, kind, since, now);
    written++;
  }
  return written;
}
