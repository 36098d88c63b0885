import type { Usage } from '../runtime/runtime.js';
import type { InstanceRecord, MachineRecord } from '../store/store.js';
import type { ControlContext } from './context.js';
import { authorizeInstance, type Principal } from './principal.js';

/** An instance with what a dialect needs to render it. */
export interface InstanceView {
  readonly instance: InstanceRecord;
  readonly machine: MachineRecord | undefined;
  readonly usage: Usage | null;
}

async function usageOf(ctx: ControlContext, inst: InstanceRecord): Promise<Usage | null> {
  if (inst.status !== 'running') return null;
  return (
    (await ctx.hosts
      .get(inst.machineId)
      ?.usage(inst.id)
      .catch(() => null)) ?? null
  );
}

export async function showInstance(ctx: ControlContext, p: Principal, id: number): Promise<InstanceView> {
  const instance = authorizeInstance(p, await ctx.store.getInstance(id), id, 'read');
  const [machine, usage] = await Promise.all([ctx.store.getMachine(instance.machineId, ctx.clock.now()), usageOf(ctx, instance)]);
  return { instance, machine, usage };
}

/** The caller's live instances (an instance key sees only its own). */
export async function listInstances(ctx: ControlContext, p: Principal): Promise<InstanceView[]> {
  const all = await ctx.store.listInstances({ accountId: p.accountId });
  const mine = p.scope === 'instance' ? all.filter((i) => i.id === p.instanceId) : all;
  const machines = new Map((await ctx.machines.list()).map((m) => [m.id, m]));
  return Promise.all(mine.map(async (instance) => ({ instance, machine: machines.get(instance.machineId), usage: await usageOf(ctx, instance) })));
}
