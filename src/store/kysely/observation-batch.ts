import { sql, type Kysely, type RawBuilder, type Transaction } from 'kysely';
import { meters } from '../../domain/billing/meter.js';
import { chargesUpTo, instanceMeters, type OpenMeter } from '../../domain/billing/settle.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { ObservationWrite } from '../store.js';
import { claimMeters, INSTANCE_METER_COLUMNS, postCharges } from './charge-batch.js';
import { applyIn, observedColumns, releasesCompute, type Applied } from './observation.js';
import type { Database } from './schema.js';
import { transact } from './tx.js';

type Trx = Transaction<Database>;
type Row = { readonly id: number; readonly write: ObservationWrite };

/** Rows per transaction: the locks a batch holds are held for one short transaction. */
const ROWS_PER_TX = 500;

/**
 * Many rows' observations under one lease token (rows claimed together), written as `applyObservation`
 * writes each (`observedColumns`, the same meters, the same compute rule) in a few statements: the rows
 * read and locked in id order, meters that close claimed and charged in bulk (`charge-batch.ts`, as the
 * billing loop settles), one UPDATE of every row's columns. A commit, several statements and a wait for the
 * account's balance row per row were the whole cost of recording a thousand exits the sweep found
 * (decision 017). Rows that give compute back, are destroyed, pay from a deposit or close a meter settled
 * past the write's time take the per-row write, in the same transaction. A batch that fails for good (not
 * a deadlock, which `transact` runs again) is written row by row, so one row's trouble does not keep the
 * others unrecorded.
 */
export async function applyObservations(db: Kysely<Database>, d: StoreDialect, leaseToken: string, rows: readonly Row[]): Promise<Applied[]> {
  const out = new Map<number, Applied>();
  for (let i = 0; i < rows.length; i += ROWS_PER_TX) {
    const part = rows.slice(i, i + ROWS_PER_TX);
    try {
      for (const [id, a] of await transact(db, (trx) => applyBatch(trx, d, leaseToken, part))) out.set(id, a);
    } catch {
      for (const r of part) out.set(r.id, await transact(db, (trx) => applyIn(trx, d, r.id, leaseToken, r.write)));
    }
  }
  return rows.map((r) => out.get(r.id) ?? 'stale');
}

async function applyBatch(trx: Trx, d: StoreDialect, leaseToken: string, rows: readonly Row[]): Promise<Map<number, Applied>> {
  const byId = new Map(rows.map((r) => [r.id, r.write]));
  let q = trx
    .selectFrom('instances')
    .leftJoin('machines', 'machines.id', 'instances.machine_id')
    .select([
      ...INSTANCE_METER_COLUMNS,
      'instances.status',
      'instances.observed_generation',
      'instances.generation',
      'instances.target',
      'instances.gpu_wait_since',
    ])
    .where(d.intIn('instances.id', [...byId.keys()]))
    .where('instances.lease_token', '=', leaseToken)
    .orderBy('instances.id');
  // Locked as the per-row write locks its row before it reads the meters: nobody moves them meanwhile.
  if (d.supportsSkipLocked) q = q.forNoKeyUpdate('instances');
  const cur = await q.execute();
  const out = new Map<number, Applied>(rows.map((r) => [r.id, 'stale']));
  const sets: { id: number; set: Record<string, unknown> }[] = [];
  const closing = new Map<number, { gpu: OpenMeter[]; disk: OpenMeter[] }>();
  for (const c of cur) {
    const o = byId.get(c.id) as ObservationWrite;
    const want = meters(o.status);
    const reserved = c.deposit > 0 && c.gpu_meter_since !== null && !want.gpu;
    // A meter settled past the time it closes at (a record written late) gives that stretch back: `syncMeters`.
    const late = (!want.gpu && (c.gpu_meter_since ?? -Infinity) > o.now) || (!want.disk && (c.disk_meter_since ?? -Infinity) > o.now);
    if (releasesCompute(c, o.status) || o.status === 'destroyed' || reserved || late) {
      out.set(c.id, await applyIn(trx, d, c.id, leaseToken, o));
      continue;
    }
    const set: Record<string, unknown> = observedColumns(c, o);
    const open = instanceMeters([
      {
        id: c.id,
        accountId: c.account_id,
        hostAccountId: c.host_account_id,
        machineId: c.machine_id,
        dphBase: c.dph_base,
        storageCost: c.storage_cost,
        diskGb: c.disk_gb,
        gpuSince: want.gpu ? null : c.gpu_meter_since,
        diskSince: want.disk ? null : c.disk_meter_since,
      },
    ]);
    const at = closing.get(o.now) ?? { gpu: [], disk: [] };
    closing.set(o.now, at);
    for (const m of open) (m.kind === 'gpu' ? at.gpu : at.disk).push(m);
    if (!want.gpu && c.gpu_meter_since !== null) set.gpu_meter_since = null;
    if (want.gpu && c.gpu_meter_since === null) set.gpu_meter_since = o.now;
    if (!want.disk && c.disk_meter_since !== null) set.disk_meter_since = null;
    if (want.disk && c.disk_meter_since === null) set.disk_meter_since = o.now;
    sets.push({ id: c.id, set });
    out.set(c.id, 'applied');
  }
  // Meters that close are charged up to the observation's time, as `syncMeters` charges one row's.
  for (const [now, m] of closing) {
    const won = [
      ...(await claimMeters(trx, d, 'instances', 'gpu_meter_since', m.gpu, now)),
      ...(await claimMeters(trx, d, 'instances', 'disk_meter_since', m.disk, now)),
    ];
    await postCharges(trx, d, chargesUpTo(won, now));
  }
  await updateRows(trx, sets);
  return out;
}

/** One UPDATE: each column a row writes as `CASE id WHEN … THEN …`, every other row keeping its value. */
async function updateRows(trx: Trx, sets: readonly { id: number; set: Record<string, unknown> }[]): Promise<void> {
  if (sets.length === 0) return;
  const columns = new Set(sets.flatMap((s) => Object.keys(s.set)));
  const assign: RawBuilder<unknown>[] = [];
  for (const col of columns) {
    const when = sets.filter((s) => col in s.set).map((s) => sql`WHEN ${s.id} THEN ${s.set[col]}`);
    assign.push(sql`${sql.ref(col)} = CASE id ${sql.join(when, sql` `)} ELSE ${sql.ref(col)} END`);
  }
  const ids = sets.map((s) => s.id);
  await sql`UPDATE instances SET ${sql.join(assign)} WHERE id IN (${sql.join(ids)})`.execute(trx);
}
