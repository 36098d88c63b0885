import type { Action } from '../../domain/account/actions.js';
import { GantryError } from '../../domain/errors.js';
import { meters, ratesOf } from '../../domain/billing/meter.js';
import type { MachineRecord } from '../../domain/machine/machine.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';

export type MachineState = 'free' | 'rented' | 'offline' | 'maintenance';

export interface Overview {
  /** Null: the key may not read machines (machine_read). An admin counts the fleet; anyone else the machines it owns. */
  readonly machines: { readonly total: number; readonly byState: Record<MachineState, number>; readonly gpusByState: Record<MachineState, number> } | null;
  readonly instances: { readonly total: number; readonly byStatus: Record<string, number> } | null;
  readonly endpoints: { readonly total: number; readonly byStatus: Record<string, number> } | null;
  readonly deployments: { readonly total: number; readonly byStatus: Record<string, number> } | null;
  /** The account's own money: $/h of what is metered now, and its balance. */
  readonly billing: { readonly spendPerHour: number; readonly balance: number } | null;
}

/** Whether the key may do `action` for every resource: a part it may not read is left out, not refused. */
function may(p: Principal, action: Action): boolean {
  try {
    authorize(p, action);
    return true;
  } catch (err) {
    if (err instanceof GantryError && (err.code === 'PERMISSION_MISSING' || err.code === 'FORBIDDEN')) return false;
    throw err;
  }
}

const count = (keys: readonly string[]): Record<string, number> => {
  const out: Record<string, number> = {};
  for (const k of keys) out[k] = (out[k] ?? 0) + 1;
  return out;
};

/** A machine's state: offline first (nothing on it can be reached), then maintenance, then whether any GPU is rented. */
function machineState(m: MachineRecord, held: number): MachineState {
  if (!m.online) return 'offline';
  if (m.inMaintenance) return 'maintenance';
  return held > 0 ? 'rented' : 'free';
}

/**
 * The console's Overview: machines and GPUs by state, instances, endpoints and deployments by status,
 * spend rate and balance — each part only when the key may read it (its account's; an admin's, the fleet's).
 */
export async function consoleOverview(ctx: ControlContext, p: Principal): Promise<Overview> {
  const scope = p.isAdmin ? null : p.accountId;
  const [machines, instances] = [may(p, 'machine.read'), may(p, 'instance.list')];
  const listed = instances || may(p, 'billing.read') ? await ctx.store.listInstances({ accountId: scope }) : [];
  // An instance's own key reads its instance only, as everywhere else: not its account's counts.
  const mine = p.scope === 'instance' ? listed.filter((i) => i.id === p.instanceId) : listed;
  const out: { -readonly [K in keyof Overview]: Overview[K] } = { machines: null, instances: null, endpoints: null, deployments: null, billing: null };
  if (machines) {
    // GPUs held now (gpu_allocations): a stopped instance remembers its GPUs but holds none.
    const held = await ctx.store.allocatedGpuCounts();
    const byState: Record<MachineState, number> = { free: 0, rented: 0, offline: 0, maintenance: 0 };
    const gpusByState: Record<MachineState, number> = { free: 0, rented: 0, offline: 0, maintenance: 0 };
    const owned = (await ctx.machines.list()).filter((m) => scope === null || m.ownerId === scope);
    for (const m of owned) {
      const h = Math.min(m.numGpus, held.get(m.id) ?? 0);
      const s = machineState(m, h);
      byState[s]++;
      if (s === 'offline' || s === 'maintenance') gpusByState[s] += m.numGpus;
      else [gpusByState.rented, gpusByState.free] = [gpusByState.rented + h, gpusByState.free + m.numGpus - h];
    }
    out.machines = { total: owned.length, byState, gpusByState };
  }
  if (instances) out.instances = { total: mine.length, byStatus: count(mine.map((i) => i.status)) };
  if (may(p, 'serverless.read')) {
    const eps = await ctx.store.listEndpoints(scope);
    out.endpoints = { total: eps.length, byStatus: count(eps.map((e) => e.status)) };
    const status = new Map(eps.map((e) => [e.id, e.status]));
    const deps = (await ctx.store.listDeployments(scope)).filter((d) => status.has(d.endpointId));
    out.deployments = { total: deps.length, byStatus: count(deps.map((d) => status.get(d.endpointId) as string)) };
  }
  if (may(p, 'billing.read')) {
    let spendPerHour = 0;
    for (const i of mine.filter((x) => x.accountId === p.accountId)) {
      const on = meters(i.status);
      const r = ratesOf(i);
      spendPerHour += (on.gpu ? r.gpu : 0) + (on.disk ? r.disk : 0);
    }
    out.billing = { spendPerHour, balance: (await ctx.store.getAccount(p.accountId))?.balance ?? 0 };
  }
  return out;
}
