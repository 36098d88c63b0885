import { claimLeased } from './lease.js';
import type { Kysely } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { HostSweepClaim } from '../store.js';
import type { Database } from './schema.js';
import type { SweptInstance } from '../../domain/instance/sweep.js';
import type { InstanceStatus, InstanceTarget, PendingOp } from '../../domain/instance/status.js';

/**
 * The host sweep's store side (decision 017): machines claimed with a lease like instance rows (so two
 * replicas never sweep one host at once), the live instances of a batch of hosts in one narrow read, and
 * the stamp that says they were compared.
 */
export async function claimHostSweeps(db: Kysely<Database>, dialect: StoreDialect, o: HostSweepClaim): Promise<{ token: string; machineIds: number[] }> {
  if (o.machineIds.length === 0) return { token: '', machineIds: [] };
  const { token, ids } = await claimLeased(
    db,
    dialect,
    'machines',
    (trx) =>
      trx
        .selectFrom('machines')
        .select('id')
        .where(dialect.intIn('id', o.machineIds))
        .where((eb) => eb.or([eb('last_swept_at', 'is', null), eb('last_swept_at', '<=', o.sweptBefore)]))
        .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', o.now)]))
        .orderBy('id'),
    o,
  );
  return { token, machineIds: ids };
}

/** Live instances of these machines with what a look compares: one read for the whole batch. */
export async function sweptInstances(db: Kysely<Database>, dialect: StoreDialect, machineIds: readonly number[]): Promise<SweptInstance[]> {
  if (machineIds.length === 0) return [];
  const rows = await db
    .selectFrom('instances')
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
    .where(dialect.intIn('machine_id', machineIds))
    .where('status', '!=', 'destroyed')
    .execute();
  return rows.map((r) => ({
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
  }));
}

/** Release the sweep's lease on the machines it compared and stamp them (guarded by the claim's token). */
export async function finishHostSweeps(db: Kysely<Database>, dialect: StoreDialect, token: string, machineIds: readonly number[], now: number): Promise<void> {
  if (machineIds.length === 0) return;
  await db
    .updateTable('machines')
    .set({ lease_owner: null, lease_token: null, lease_expires_at: null, last_swept_at: now })
    .where(dialect.intIn('id', machineIds))
    .where('lease_token', '=', token)
    .execute();
}
