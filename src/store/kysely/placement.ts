import { GantryError } from '../../domain/errors.js';
import { claimPriority, planPlacement, preemptedMessage, type GpuHolder, type GpuWaiter, type PlacementPlan } from '../../domain/instance/bids.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import { insertGpus, type Db } from './allocations.js';
import type { NewInstance } from '../store.js';
import { parseJson } from './rows.js';

/**
 * `fresh`: the instance this transaction is creating (granted without a generation bump; its vCPUs are
 * the caller's to hold, with the capacity check).
 *
 * Placement of waiting instances (bids and rentals that outrank bids) on one machine, applied in the
 * caller's transaction: grants write GPU allocations and bump the generation (the reconciler starts
 * the instance), preemptions mark the loser waiting and bump its generation (the reconciler stops it,
 * and its GPUs are released only once the runtime confirms). PostgreSQL serialises placements per
 * machine with a row lock; SQLite has one writer anyway.
 */
export async function rebalanceMachine(d: StoreDialect, trx: Db, machineId: number, now: number, fresh?: number): Promise<PlacementPlan> {
  let mq = trx.selectFrom('machines').select(['id', 'num_gpus']).where('id', '=', machineId);
  if (d.supportsSkipLocked) mq = mq.forUpdate();
  const machine = await mq.executeTakeFirst();
  const empty: PlacementPlan = { grants: [], preempt: [], pending: new Map(), outbid: new Set() };
  if (!machine) return empty;
  const allocs = await trx.selectFrom('gpu_allocations').select(['gpu_index', 'instance_id']).where('machine_id', '=', machineId).execute();
  const holderIds = [...new Set(allocs.map((a) => a.instance_id))];
  const rows = await trx
    .selectFrom('instances')
    .select(['id', 'offer_type', 'bid_price', 'num_gpus', 'target', 'gpu_wait_since'])
    .where('machine_id', '=', machineId)
    .where('status', '!=', 'destroyed')
    .where((eb) => eb.or([eb('gpu_wait_since', 'is not', null), ...(holderIds.length > 0 ? [eb('id', 'in', holderIds)] : [])]))
    .execute();
  const waiters: GpuWaiter[] = rows
    .filter((r) => r.gpu_wait_since !== null)
    .map((r) => ({
      id: r.id,
      priority: claimPriority({ offerType: r.offer_type, bidPrice: r.bid_price, numGpus: r.num_gpus }),
      numGpus: r.num_gpus,
      since: r.gpu_wait_since as number,
    }));
  if (waiters.length === 0) return empty;
  const byId = new Map(rows.map((r) => [r.id, r]));
  const holders: GpuHolder[] = holderIds.map((id) => {
    const r = byId.get(id);
    const waiting = r?.gpu_wait_since !== null && r?.gpu_wait_since !== undefined;
    return {
      id,
      priority: r ? claimPriority({ offerType: r.offer_type, bidPrice: r.bid_price, numGpus: r.num_gpus }) : Number.POSITIVE_INFINITY,
      gpus: allocs.filter((a) => a.instance_id === id).map((a) => a.gpu_index),
      settled: r !== undefined && r.target === 'running' && !waiting,
      releasing: waiting,
    };
  });
  const plan = planPlacement(machine.num_gpus, holders, waiters, await homeGpus(trx, machineId));
  for (const g of plan.grants) {
    if (g.id === fresh) {
      // The instance being created: its first generation is the request to run; nothing more to bump.
      await insertGpus(d, trx, machineId, g.id, g.gpus, 'OFFER_UNAVAILABLE');
      await trx
        .updateTable('instances')
        .set({ gpu_indices: JSON.stringify(g.gpus), gpu_wait_since: null })
        .where('id', '=', g.id)
        .execute();
      continue;
    }
    if (!g.kept) {
      await insertGpus(d, trx, machineId, g.id, g.gpus, 'OFFER_UNAVAILABLE');
      await holdCpu(trx, g.id, machineId, null);
    }
    await trx
      .updateTable('instances')
      .set((eb) => ({ gpu_indices: JSON.stringify(g.gpus), gpu_wait_since: null, status_msg: null, generation: eb('generation', '+', 1) }))
      .where('id', '=', g.id)
      .execute();
  }
  for (const p of plan.preempt) {
    const n = byId.get(p.id)?.num_gpus ?? 1;
    await trx
      .updateTable('instances')
      .set((eb) => ({ gpu_wait_since: now, status_msg: preemptedMessage(p.byPriority, n), generation: eb('generation', '+', 1) }))
      .where('id', '=', p.id)
      .where('gpu_wait_since', 'is', null)
      .execute();
  }
  return plan;
}

/**
 * Hold the instance's vCPUs and RAM on its machine (no-op for instances placed without a size). With
 * `check`, refuse when they do not fit in what the other holders leave.
 */
export async function holdCpu(trx: Db, instanceId: number, machineId: number, check: GantryError['code'] | null): Promise<void> {
  const inst = await trx.selectFrom('instances').select(['cpu_cores', 'ram_mb']).where('id', '=', instanceId).executeTakeFirst();
  if (!inst || inst.cpu_cores === null || inst.ram_mb === null) return;
  const mine = await trx.selectFrom('cpu_allocations').select('instance_id').where('instance_id', '=', instanceId).executeTakeFirst();
  if (mine) return;
  if (check !== null) await checkCpuFits(trx, machineId, inst.cpu_cores, inst.ram_mb, check);
  await trx.insertInto('cpu_allocations').values({ instance_id: instanceId, machine_id: machineId, cpu_cores: inst.cpu_cores, ram_mb: inst.ram_mb }).execute();
}

export async function checkCpuFits(trx: Db, machineId: number, cores: number, ramMb: number, code: GantryError['code']): Promise<void> {
  const m = await trx.selectFrom('machines').select(['cpu_cores', 'cpu_ram_mb']).where('id', '=', machineId).executeTakeFirst();
  if (!m) return;
  const used = await trx
    .selectFrom('cpu_allocations')
    .select((eb) => [eb.fn.sum<number>('cpu_cores').as('cores'), eb.fn.sum<number>('ram_mb').as('ram')])
    .where('machine_id', '=', machineId)
    .executeTakeFirst();
  const freeCores = m.cpu_cores - Number(used?.cores ?? 0);
  const freeRam = m.cpu_ram_mb - Number(used?.ram ?? 0);
  // A hair of tolerance: shares of cores are fractions.
  if (cores > freeCores + 1e-6 || ramMb > freeRam + 1e-3) {
    throw new GantryError(
      code,
      `Machine ${machineId} has ${round(Math.max(0, freeCores))} vCPUs and ${Math.round(Math.max(0, freeRam))} MB RAM free; ${round(cores)} vCPUs and ${Math.round(ramMb)} MB were asked for. Search offers again.`,
      { machineId, freeCores: round(Math.max(0, freeCores)), freeRamMb: Math.round(Math.max(0, freeRam)) },
    );
  }
}

export function notEnoughGpus(free: number, n: Pick<NewInstance, 'offerType' | 'numGpus' | 'machineId'>): GantryError {
  const stronger = n.offerType === 'bid' ? 'on-demand rentals or bids at least as high' : 'on-demand rentals';
  return new GantryError(
    'OFFER_UNAVAILABLE',
    `Only ${free} of the ${n.numGpus} GPUs asked for are free on machine ${n.machineId}, and the others are held by ${stronger}; search offers again.`,
    { machineId: n.machineId },
  );
}

const round = (x: number): number => Math.round(x * 100) / 100;

/** The GPUs stopped instances of a machine start on again (they hold none while stopped). */
export async function homeGpus(trx: Db, machineId: number): Promise<Set<number>> {
  const stopped = await trx
    .selectFrom('instances')
    .select('gpu_indices')
    .where('machine_id', '=', machineId)
    .where('target', '=', 'stopped')
    .where('status', '!=', 'destroyed')
    .execute();
  return new Set(stopped.flatMap((r) => parseJson<number[]>(r.gpu_indices, [])));
}

/** Give back an instance's GPUs and vCPUs (its stop is confirmed, or it is destroyed); true when it held any. */
export async function releaseCompute(trx: Db, instanceId: number): Promise<boolean> {
  const gpus = await trx.deleteFrom('gpu_allocations').where('instance_id', '=', instanceId).executeTakeFirst();
  const cpu = await trx.deleteFrom('cpu_allocations').where('instance_id', '=', instanceId).executeTakeFirst();
  return gpus.numDeletedRows > 0n || cpu.numDeletedRows > 0n;
}
