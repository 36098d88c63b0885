import { GantryError } from '../../domain/errors.js';
import type { MachineRecord } from '../../domain/machine/machine.js';
import { gpuLocations, gpuMarket, type GpuMarketRow, type MarketFilter } from '../../domain/machine/market.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';

/**
 * The rest of Vast's host verbs over Gantry's fleet: one machine by id, maintenance windows, user
 * reports, defragmentation, market metrics; and the verbs Gantry refuses on purpose, each with why
 * (README, "Using the official Vast.ai CLI and SDK"). Another account's machine is "not found".
 */

async function ownMachine(ctx: ControlContext, p: Principal, id: number, action: 'machine.read' | 'machine.write'): Promise<MachineRecord> {
  authorize(p, action, { kind: 'machine', id });
  const m = await ctx.store.getMachine(id, ctx.clock.now());
  if (!m || (m.ownerId !== p.accountId && !p.isAdmin)) throw new GantryError('MACHINE_NOT_FOUND', `No machine with id ${id}.`, { machineId: id });
  return m;
}

export function showOwnMachine(ctx: ControlContext, p: Principal, id: number): Promise<MachineRecord> {
  return ownMachine(ctx, p, id, 'machine.read');
}

export interface MaintenanceWindow {
  readonly machineId: number;
  readonly start: number;
  readonly end: number;
  readonly reason: string | null;
}

/** Scheduled maintenance of the caller's machines (all of them when `ids` is empty). */
export async function listMaintenances(ctx: ControlContext, p: Principal, ids: readonly number[]): Promise<MaintenanceWindow[]> {
  authorize(p, 'machine.read');
  const wanted = new Set(ids);
  const mine = (await ctx.store.listMachines(ctx.clock.now())).filter(
    (m) => (m.ownerId === p.accountId || p.isAdmin) && (wanted.size === 0 || wanted.has(m.id)),
  );
  return mine.flatMap((m) => (m.maintenance === null ? [] : [{ machineId: m.id, ...m.maintenance }]));
}

/** Renters cannot file reports about a machine in Gantry, so a machine has none; the machine must be the caller's. */
export async function machineReports(ctx: ControlContext, p: Principal, id: number): Promise<readonly never[]> {
  await ownMachine(ctx, p, id, 'machine.read');
  return [];
}

export interface DefragResult {
  readonly machineId: number;
  readonly numGpus: number;
  readonly rentedGpus: number;
  readonly moved: 0;
}

/**
 * Nothing to move: an offer counts a machine's free GPUs, not their positions (`chunkSizes`), so the
 * free GPUs of a machine already form its largest offer. Checks that each machine is the caller's.
 */
export async function defragMachines(ctx: ControlContext, p: Principal, ids: readonly number[]): Promise<DefragResult[]> {
  authorize(p, 'machine.write');
  const allocated = await ctx.store.allocatedGpuCounts();
  const out: DefragResult[] = [];
  for (const id of ids) {
    const m = await ownMachine(ctx, p, id, 'machine.write');
    out.push({ machineId: m.id, numGpus: m.numGpus, rentedGpus: allocated.get(m.id) ?? 0, moved: 0 });
  }
  return out;
}

function notSupported(message: string, verb: string): GantryError {
  return new GantryError('NOT_SUPPORTED', message, { verb });
}

/** Vast's default (background) jobs: refused, see the message. */
export async function setDefaultJob(ctx: ControlContext, p: Principal, id: number | null): Promise<never> {
  if (id !== null) await ownMachine(ctx, p, id, 'machine.write');
  else authorize(p, 'machine.write');
  throw notSupported(
    'Gantry has no default jobs: an idle machine runs nothing of its own. To keep your GPUs busy, rent your own machine ' +
      'with an interruptible bid (create instance ID --bid_price P): it runs until a renter pays more.',
    'set defjob',
  );
}

export async function removeDefaultJob(ctx: ControlContext, p: Principal, id: number): Promise<never> {
  await ownMachine(ctx, p, id, 'machine.write');
  throw notSupported('Gantry has no default jobs, so there is none to remove (see set defjob).', 'remove defjob');
}

export interface DeletedMachine {
  readonly machineId: number;
  /** The owner's own instances, and destroys that waited for the gone host: tombstones now. */
  readonly destroyedIds: readonly number[];
  /** The owner's own volumes on it, deleted with it. */
  readonly volumeIds: readonly number[];
}

const list = (ids: readonly number[]): string => ids.join(', ');

/**
 * Vast's `delete machine` (force_delete), for a host that is gone for good. The record stays (deleted_at) so
 * instances, tombstones and charges that name it still resolve; it leaves show machines, offers and placement,
 * and its host tokens are revoked, so its agent is refused (MACHINE_DELETED) rather than registering again.
 * Refused while its agent is connected (MACHINE_ONLINE): stop the agent first, so nothing runs unseen on a
 * machine nobody can reach. Refused while other accounts rent on it (MACHINE_IN_USE): their instances (a
 * stopped one too: its disk and configuration live on that host) and volumes are theirs to destroy; a destroy
 * waiting for the offline host completes with the delete. As on Vast, the owner's own instances and volumes
 * do not block: they end with the machine.
 */
export async function deleteMachine(ctx: ControlContext, p: Principal, id: number): Promise<DeletedMachine> {
  const m = await ownMachine(ctx, p, id, 'machine.write');
  if (m.online || ctx.hosts.get(m.id) !== undefined) {
    throw new GantryError(
      'MACHINE_ONLINE',
      `The agent of machine ${id} is still connected. Stop it (Ctrl-C or stop its service) and wait until show machines ` +
        `shows the machine offline (about ${Math.round(ctx.settings.machineOfflineMs / 1000)} s), then delete it.`,
      { machineId: id },
    );
  }
  const now = ctx.clock.now();
  const r = await ctx.store.deleteMachine(id, now, `destroyed with machine ${id}: its host was deleted`);
  if (!r.deleted) {
    const what = [
      ...(r.instanceIds.length > 0 ? [`instances ${list(r.instanceIds)} (not destroyed)`] : []),
      ...(r.volumeIds.length > 0 ? [`volumes ${list(r.volumeIds)}`] : []),
    ].join(' and ');
    throw new GantryError(
      'MACHINE_IN_USE',
      `Machine ${id} is in use by other accounts: ${what}. Their renters must destroy them (destroy instance ID, delete volume ID); ` +
        'a destroy that waits for this offline host completes when the machine is deleted. Until then, unlist it (unlist machine).',
      { machineId: id, instanceIds: r.instanceIds, volumeIds: r.volumeIds },
    );
  }
  for (const i of r.destroyedIds) await ctx.store.revokeInstanceKeys(i, now);
  ctx.hosts.delete(id);
  ctx.machines.invalidate();
  ctx.store.changes.publish('machine', id);
  for (const i of r.destroyedIds) ctx.store.changes.publish('instance-status', i);
  ctx.log.info({ machineId: id, destroyed: r.destroyedIds, volumes: r.volumeIds }, 'machine deleted');
  return { machineId: id, destroyedIds: r.destroyedIds, volumeIds: r.volumeIds };
}

/**
 * Benchmark rows are measured and shared across Vast's marketplace; Gantry records none, so every search
 * finds nothing (an empty list keeps `run benchmarks` going: it then measures instead of reusing a row).
 */
export function searchBenchmarks(_ctx: ControlContext, p: Principal): readonly never[] {
  authorize(p, 'offer.search');
  return [];
}

/** Overlay networks between instances need a virtual network on every host; Gantry instances reach each other through host ports. */
export function overlayNetworks(_ctx: ControlContext, p: Principal, write: boolean): readonly never[] {
  authorize(p, write ? 'machine.write' : 'machine.read');
  if (!write) return [];
  throw notSupported('Gantry has no overlay networks: instances reach each other through the host ports they map (-p), shown in show instance.', 'overlay');
}

/**
 * Vast's physical clusters (machines on one LAN subnet with a manager node) exist for overlay networks
 * and network disks, which Gantry does not offer; so there are none, and making one is refused.
 */
export function physicalClusters(_ctx: ControlContext, p: Principal, write: boolean): readonly never[] {
  authorize(p, write ? 'machine.write' : 'machine.read');
  if (!write) return [];
  throw notSupported(
    'Gantry has no physical clusters: on Vast they carry overlay networks and network disks, which Gantry does not offer. Each machine is rented on its own.',
    'cluster',
  );
}

/**
 * Price increases: an instance keeps the price of its creation (`dph_base`), so a host raising its
 * listing price never creates a pending increase for a running rental. The list is always empty.
 */
export function pendingPriceIncreases(_ctx: ControlContext, p: Principal): readonly never[] {
  // A price is a billing matter (and an instance's own key holds no billing scope).
  authorize(p, 'billing.read');
  return [];
}

export function answerPriceIncrease(_ctx: ControlContext, p: Principal, pendingId: number | null): never {
  authorize(p, 'billing.write');
  throw new GantryError(
    'PRICE_INCREASE_NOT_FOUND',
    `No pending price increase${pendingId === null ? '' : ` with id ${pendingId}`}: Gantry keeps each instance at its creation price.`,
    {
      pendingId,
    },
  );
}

/** Hosts without machines get no market view, as on Vast. */
async function marketView(ctx: ControlContext, p: Principal): Promise<{ machines: MachineRecord[]; allocated: Map<number, number> } | null> {
  authorize(p, 'machine.read');
  const machines = await ctx.machines.list();
  if (!p.isAdmin && !machines.some((m) => m.ownerId === p.accountId)) return null;
  return { machines, allocated: await ctx.store.allocatedGpuCounts() };
}

export async function gpuMetrics(ctx: ControlContext, p: Principal, f: MarketFilter): Promise<GpuMarketRow[] | null> {
  const v = await marketView(ctx, p);
  return v === null ? null : gpuMarket(v.machines, v.allocated, f);
}

export async function gpuLocationMetrics(ctx: ControlContext, p: Principal): Promise<Record<string, unknown>[] | null> {
  const v = await marketView(ctx, p);
  return v === null ? null : gpuLocations(v.machines, v.allocated);
}
