import { claimLeased } from './lease.js';
import { sql, type Kysely, type SqlBool } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { HostSweepClaim, HostSweepStore, SweptInstances } from '../host-sweep-store.js';
import { Repo } from './repo.js';
import type { Database } from './schema.js';
import { RESTING_RUNNING } from '../../domain/instance/sweep.js';
import type { InstanceStatus, InstanceTarget, PendingOp } from '../../domain/instance/status.js';

/**
 * The host sweep's store side (decisions 017, 022): hosts claimed with a lease like instance rows (so two
 * replicas never sweep one host at once), the live instances of a batch of hosts in one narrow read, and
 * the stamp that says they were compared. Lease and stamp live in `host_sweeps`, a row per machine.
 */
async function claimHostSweeps(db: Kysely<Database>, dialect: StoreDialect, o: HostSweepClaim): Promise<{ token: string; machineIds: number[] }> {
  if (o.machineIds.length === 0) return { token: '', machineIds: [] };
  const { token, ids } = await claimLeased(
    db,
    dialect,
    'host_sweeps',
    (trx) =>
      trx
        .selectFrom('host_sweeps')
        .select('id')
        .where(dialect.intIn('id', o.machineIds))
        .where((eb) => eb.or([eb('last_swept_at', 'is', null), eb('last_swept_at', '<=', o.sweptBefore)]))
        .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', o.now)]))
        .orderBy('id'),
    o,
  );
  return { token, machineIds: ids };
}

/** Make the sweep rows of these machines where missing (a host's first claim); two replicas meet in ON CONFLICT. */
async function makeSweepRows(db: Kysely<Database>, dialect: StoreDialect, machineIds: readonly number[]): Promise<void> {
  await db
    .insertInto('host_sweeps')
    .columns(['id'])
    .expression((eb) =>
      eb
        .selectFrom('machines')
        .select('id')
        .where(dialect.intIn('id', machineIds))
        .where((w) => w.not(w.exists(w.selectFrom('host_sweeps as h').select('h.id').whereRef('h.id', '=', 'machines.id')))),
    )
    .onConflict((oc) => oc.column('id').doNothing())
    .execute();
}

/** Composite key of an instance on its machine: ids stay below 2^31, machine ids below 2^22, within a double. */
const KEY = sql<number>`(machine_id * 2147483648 + id)`;
const keyOf = (machineId: number, id: number): number => machineId * 2147483648 + id;

/**
 * Live instances of these machines, in one read for the whole batch, but for those the store can call at
 * rest itself: `RESTING_RUNNING` rows among `running` (listed plainly running by their own machine), only
 * counted per machine. The predicate spells out RESTING_RUNNING (domain/instance/sweep.ts).
 */
async function sweptInstances(
  db: Kysely<Database>,
  dialect: StoreDialect,
  machineIds: readonly number[],
  running: readonly { machineId: number; id: number }[],
): Promise<SweptInstances> {
  if (machineIds.length === 0) return { rows: [], resting: new Map() };
  const keys = running.map((r) => keyOf(r.machineId, r.id));
  const rest = sql<SqlBool>`(target = ${RESTING_RUNNING.target} AND status = ${RESTING_RUNNING.status} AND generation = observed_generation
    AND gpu_wait_since IS NULL AND exit_code IS NULL AND ${dialect.bigintIn(KEY, keys)})`;
  const live = db.selectFrom('instances').where(dialect.intIn('machine_id', machineIds)).where('status', '!=', 'destroyed');
  const [rows, counts] = await Promise.all([
    live
      .select([
        'id',
        'machine_id',
        'target',
        'status',
        'generation',
        'observed_generation',
        'pending_op',
        'gpu_wait_since',
        'status_msg',
        'exit_code',
        'start_date',
        'last_processed_at',
        'lease_expires_at',
      ])
      .where(keys.length > 0 ? sql<SqlBool>`NOT ${rest}` : sql<SqlBool>`1 = 1`)
      .execute(),
    keys.length > 0
      ? live
          .select(['machine_id', (eb) => eb.fn.countAll<number>().as('n')])
          .where(rest)
          .groupBy('machine_id')
          .execute()
      : Promise.resolve([]),
  ]);
  return {
    rows: rows.map((r) => ({
      id: r.id,
      machineId: r.machine_id,
      target: r.target as InstanceTarget,
      status: r.status as InstanceStatus,
      generation: Number(r.generation),
      observedGeneration: Number(r.observed_generation),
      pendingOp: (r.pending_op ?? null) as PendingOp,
      gpuWaitSince: r.gpu_wait_since === null ? null : Number(r.gpu_wait_since),
      statusMsg: r.status_msg,
      exitCode: r.exit_code,
      startDate: r.start_date === null ? null : Number(r.start_date),
      lastProcessedAt: Number(r.last_processed_at),
      leaseExpiresAt: r.lease_expires_at === null ? null : Number(r.lease_expires_at),
    })),
    resting: new Map(counts.map((c) => [c.machine_id, Number(c.n)])),
  };
}

/** Release the sweep's lease on the machines it compared and stamp them (guarded by the claim's token). */
async function finishHostSweeps(db: Kysely<Database>, dialect: StoreDialect, token: string, machineIds: readonly number[], now: number): Promise<void> {
  if (machineIds.length === 0) return;
  await db
    .updateTable('host_sweeps')
    .set({ lease_owner: null, lease_token: null, lease_expires_at: null, last_swept_at: now })
    .where(dialect.intIn('id', machineIds))
    .where('lease_token', '=', token)
    .execute();
}

/** The functions above as the store's `HostSweepStore` part. */
export class HostSweepRepo extends Repo implements HostSweepStore {
  /** Machines whose sweep row exists (rows are never deleted; candidates are connected hosts, whose machine rows exist): a pass asks the store only about hosts new to this replica. */
  readonly #rowsMade = new Set<number>();

  async claimHostSweeps(o: HostSweepClaim): Promise<{ token: string; machineIds: number[] }> {
    const fresh = o.machineIds.filter((id) => !this.#rowsMade.has(id));
    if (fresh.length > 0) {
      await makeSweepRows(this.db, this.dialect, fresh);
      for (const id of fresh) this.#rowsMade.add(id);
    }
    return claimHostSweeps(this.db, this.dialect, o);
  }
  sweptInstances(machineIds: readonly number[], running: readonly { machineId: number; id: number }[]): Promise<SweptInstances> {
    return sweptInstances(this.db, this.dialect, machineIds, running);
  }
  finishHostSweeps(token: string, machineIds: readonly number[], now: number): Promise<void> {
    return finishHostSweeps(this.db, this.dialect, token, machineIds, now);
  }
}
