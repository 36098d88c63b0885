import { sql, type Transaction } from 'kysely';
import { balanceMoves, type MeterCharge, type OpenMeter } from '../../domain/billing/settle.js';
import type { NumberColumn, StoreDialect } from '../dialects/store-dialect.js';
import type { Database } from './schema.js';

type Trx = Transaction<Database>;

const DAY_MS = 86_400_000;
/** Rows per bulk statement: 500 rows of at most 9 values stay far under SQLite's 32,766 parameters. */
export const ROWS_PER_STATEMENT = 500;

/** A stretch as its `charges` row (the subject is the instance or, for kind `volume`, the volume). */
export function chargeRow(c: {
  readonly accountId: number;
  readonly hostAccountId: number;
  readonly machineId: number;
  readonly subjectId: number;
  readonly kind: string;
  readonly start: number;
  readonly end: number;
  readonly rate: number;
  readonly amount: number;
}) {
  return {
    account_id: c.accountId,
    host_account_id: c.hostAccountId,
    machine_id: c.machineId,
    instance_id: c.subjectId,
    kind: c.kind,
    start_at: c.start,
    end_at: c.end,
    rate: c.rate,
    amount: c.amount,
  };
}

/** The columns a settlement reads of an instance (its meters, rates and who is paid). */
export const INSTANCE_METER_COLUMNS = [
  'instances.id',
  'instances.account_id',
  'instances.machine_id',
  'machines.owner_id as host_account_id',
  'instances.dph_base',
  'instances.storage_cost',
  'instances.disk_gb',
  'instances.deposit',
  'instances.deposit_discount',
  'instances.gpu_meter_since',
  'instances.disk_meter_since',
] as const;

/** The columns a settlement reads of a volume. */
export const VOLUME_METER_COLUMNS = [
  'volumes.id',
  'volumes.account_id',
  'volumes.machine_id',
  'volumes.size_gb',
  'volumes.price_disk',
  'volumes.meter_since',
  'volume_offers.owner_id',
] as const;

function chunks<T>(xs: readonly T[], n = ROWS_PER_STATEMENT): T[][] {
  const out: T[][] = [];
  for (let i = 0; i < xs.length; i += n) out.push(xs.slice(i, i + n));
  return out;
}

const CAS_COLUMNS: readonly NumberColumn[] = [
  { name: 'vid', type: 'int' },
  { name: 'vsince', type: 'bigint' },
];

/**
 * Move the start of each meter from the `since` that was read to `now`, in one statement per chunk, and
 * return the meters this transaction won. Another replica settling the same meter at the same time
 * moved it first (PostgreSQL re-checks the condition once the row is free), so its stretch is charged
 * there and nowhere else.
 */
export async function claimMeters(
  trx: Trx,
  d: StoreDialect,
  table: 'instances' | 'volumes',
  column: 'gpu_meter_since' | 'disk_meter_since' | 'meter_since',
  open: readonly OpenMeter[],
  now: number,
): Promise<OpenMeter[]> {
  const won = new Set<number>();
  for (const part of chunks(open)) {
    const v = d.numberRows(
      'v',
      CAS_COLUMNS,
      part.map((m) => [m.subjectId, m.since]),
    );
    const r = await sql<{ id: number }>`UPDATE ${sql.table(table)} SET ${sql.ref(column)} = ${now} FROM ${v}
      WHERE ${sql.ref(`${table}.id`)} = v.vid AND ${sql.ref(`${table}.${column}`)} = v.vsince
      RETURNING ${sql.ref(`${table}.id`)}`.execute(trx);
    for (const row of r.rows) won.add(Number(row.id));
  }
  return open.filter((m) => won.has(m.subjectId));
}

const EXTEND_COLUMNS: readonly NumberColumn[] = [
  { name: 'vid', type: 'int' },
  { name: 'vstart', type: 'bigint' },
  { name: 'vend', type: 'bigint' },
  { name: 'vrate', type: 'float8' },
  { name: 'vamount', type: 'float8' },
];

/**
 * Book settled stretches in bulk, with the ledger shape of `postCharge`: a stretch that continues its
 * meter's row of the same UTC day and rate extends that row, the others are inserted; then each account's
 * balance moves once, by the net of its charges, in account order.
 */
export async function postCharges(trx: Trx, d: StoreDialect, charges: readonly MeterCharge[]): Promise<void> {
  const byKind = new Map<string, MeterCharge[]>();
  const inserts: MeterCharge[] = [];
  for (const c of charges) {
    // A stretch's later days (it crossed midnight) start rows of their own: only its first day continues a row.
    if (c.start !== c.since) {
      inserts.push(c);
      continue;
    }
    // Appended in place: copying the list per charge made a batch of n charges cost n² copies.
    const list = byKind.get(c.kind);
    if (list === undefined) byKind.set(c.kind, [c]);
    else list.push(c);
  }
  for (const [kind, list] of byKind) {
    for (const part of chunks(list)) {
      const v = d.numberRows(
        'v',
        EXTEND_COLUMNS,
        part.map((c) => [c.subjectId, c.start, c.end, c.rate, c.amount]),
      );
      const r = await sql<{ instance_id: number }>`UPDATE charges SET end_at = v.vend, amount = charges.amount + v.vamount FROM ${v}
        WHERE charges.instance_id = v.vid AND charges.kind = ${kind} AND charges.end_at = v.vstart AND charges.rate = v.vrate
          AND charges.start_at >= v.vstart - (v.vstart % ${DAY_MS})
        RETURNING charges.instance_id`.execute(trx);
      const extended = new Set(r.rows.map((row) => Number(row.instance_id)));
      inserts.push(...part.filter((c) => !extended.has(c.subjectId)));
    }
  }
  for (const part of chunks(inserts)) {
    await trx.insertInto('charges').values(part.map(chargeRow)).execute();
  }
  await moveBalances(trx, d, balanceMoves(charges));
}

const BALANCE_COLUMNS: readonly NumberColumn[] = [
  { name: 'vid', type: 'int' },
  { name: 'vdelta', type: 'float8' },
];

async function moveBalances(trx: Trx, d: StoreDialect, moves: readonly { accountId: number; delta: number }[]): Promise<void> {
  for (const part of chunks(moves)) {
    const ids = part.map((m) => m.accountId);
    // One UPDATE locks its rows in no stated order; lock them in account order first, so two settlers
    // (or a settler and a transfer) wait for each other instead of deadlocking.
    if (d.supportsSkipLocked) await trx.selectFrom('accounts').select('id').where(d.intIn('id', ids)).orderBy('id').forNoKeyUpdate().execute();
    const v = d.numberRows(
      'v',
      BALANCE_COLUMNS,
      part.map((m) => [m.accountId, m.delta]),
    );
    await sql`UPDATE accounts SET balance = accounts.balance + v.vdelta FROM ${v} WHERE accounts.id = v.vid`.execute(trx);
  }
}
