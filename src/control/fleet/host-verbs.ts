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
  authorize(p, action, id);
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

/**
 * Vast's `delete machine`: refused. Instances' history (billing, tombstones) refers to the machine record,
 * and a running agent registers its machine again on its next hello; take a machine out of service with
 * `unlist machine` (renters keep their instances) and by stopping its agent.
 */
export async function deleteMachine(ctx: ControlContext, p: Principal, id: number): Promise<never> {
  const m = await ownMachine(ctx, p, id, 'machine.write');
  const live = [...(await ctx.store.liveInstanceIds(m.id))];
  const clients = (await Promise.all(live.map((i) => ctx.store.getInstance(i)))).filter((i) => i !== undefined && i.accountId !== m.ownerId);
  const inUse = clients.length > 0 ? ` It is in use by clients (instances ${clients.map((i) => i?.id).join(', ')}).` : '';
  throw notSupported(
    `Gantry does not delete machines: instances' records refer to them and a running agent registers its machine again.${inUse} ` +
      'Unlist it (unlist machine) and stop its agent: it then shows offline and gets no rentals.',
    'delete machine',
  );
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
