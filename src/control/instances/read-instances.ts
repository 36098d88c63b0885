import type { ControlContext } from '../context.js';
import { authorize, authorizeInstance, type Principal } from '../principal.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { MachineRecord } from '../../domain/machine/machine.js';
import type { LinkedVolume } from '../../store/volume-store.js';

export interface InstanceUsage {
  readonly cpuUtil: number;
  readonly memUsageMb: number;
  readonly diskUsageMb: number;
  /** Mean utilisation of the instance's GPUs; null when the host does not measure it. */
  readonly gpuUtil: number | null;
}

/** An instance with what a dialect needs to render it. */
export interface InstanceView {
  readonly instance: InstanceRecord;
  readonly machine: MachineRecord | undefined;
  readonly usage: InstanceUsage | null;
  /** Volumes linked into it (Vast's `volume_info`). */
  readonly volumes: readonly LinkedVolume[];
}

/** Usage comes from the agents' heartbeats (stored), so any replica can show it without asking the host. */
async function withUsage(ctx: ControlContext, rows: readonly { instance: InstanceRecord; machine: MachineRecord | undefined }[]): Promise<InstanceView[]> {
  const usage = await ctx.store.usageOf(rows.filter((r) => r.instance.status === 'running').map((r) => r.instance.id));
  const linked = await ctx.store.linkedVolumes(rows.map((r) => r.instance.id));
  return rows.map(({ instance, machine }) => {
    const u = usage.get(instance.id);
    const volumes = linked.get(instance.id) ?? [];
    if (u === undefined || instance.status !== 'running') return { instance, machine, usage: null, volumes };
    const utils = machine?.gpuUtils ?? null;
    const mine = utils === null ? [] : instance.gpuIndices.map((i) => utils[i]).filter((x): x is number => x !== undefined);
    const gpuUtil = mine.length === 0 ? null : mine.reduce((a, b) => a + b, 0) / mine.length;
    return { instance, machine, usage: { cpuUtil: u.cpuUtil, memUsageMb: u.memUsageMb, diskUsageMb: u.diskUsageMb, gpuUtil }, volumes };
  });
}

export async function showInstance(ctx: ControlContext, p: Principal, id: number): Promise<InstanceView> {
  const instance = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.read');
  // A deleted machine still names the host a destroyed instance ran on.
  const machine = await ctx.store.getMachine(instance.machineId, ctx.clock.now(), { includeDeleted: true });
  const [view] = await withUsage(ctx, [{ instance, machine }]);
  return view as InstanceView;
}

/** An account's live instances as listings show them, read from the store (InstanceViewCache keeps them). */
export async function readAccountViews(ctx: ControlContext, accountId: number): Promise<InstanceView[]> {
  const all = await ctx.store.listInstances({ accountId });
  const machines = new Map((await ctx.machines.list()).map((m) => [m.id, m]));
  return withUsage(
    ctx,
    all.map((instance) => ({ instance, machine: machines.get(instance.machineId) })),
  );
}

/** The caller's live instances (an instance key sees only its own): the same array while nothing in it changed. */
export async function listInstances(ctx: ControlContext, p: Principal): Promise<readonly InstanceView[]> {
  authorize(p, 'instance.list');
  const all = await ctx.instanceViews.get(p.accountId);
  return p.scope === 'instance' ? all.filter((v) => v.instance.id === p.instanceId) : all;
}

/**
 * One instance as listings show it, read once for every reader (the console's push channel, which
 * authorizes each reader itself); undefined: no such instance.
 */
export async function readInstanceView(ctx: ControlContext, id: number): Promise<InstanceView | undefined> {
  const instance = await ctx.store.getInstance(id);
  if (instance === undefined) return undefined;
  const machine = (await ctx.machines.list()).find((m) => m.id === instance.machineId);
  const [view] = await withUsage(ctx, [{ instance, machine }]);
  return view;
}
