import type { MachineRecord, MachineRegistration } from '../store/store.js';
import type { ControlContext } from './context.js';
import type { HostLink } from './hosts.js';

/** A host announces itself: its machine row is created or refreshed, and its link becomes reachable. */
export async function registerHost(ctx: ControlContext, reg: MachineRegistration, link: HostLink): Promise<MachineRecord> {
  const m = await ctx.store.registerMachine(reg, ctx.clock.now());
  ctx.machines.invalidate();
  ctx.hosts.set(m.id, link);
  ctx.log.info({ machineId: m.id, gpus: m.numGpus === 0 ? 'none' : `${m.numGpus}x ${m.gpuName}`, declared: m.gpuDeclared }, 'host registered');
  ctx.wake();
  return m;
}

export async function hostHeartbeat(ctx: ControlContext, machineId: number): Promise<void> {
  await ctx.store.touchMachine(machineId, ctx.clock.now());
}
