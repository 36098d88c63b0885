import type { ControlContext } from '../context.js';
import type { HostLink } from './hosts.js';
import type { MachineRecord, MachineRegistration } from '../../domain/machine/machine.js';

/**
 * Attach a host whose link is already in hand (tests drive the reconciler through instrumented runtimes this way).
 * Agents join through `AgentHub.hello`, which ends in the same two steps.
 */
export async function registerHost(ctx: ControlContext, reg: MachineRegistration, link: HostLink): Promise<MachineRecord> {
  const m = await ctx.store.registerMachine(reg, ctx.clock.now());
  ctx.machines.invalidate();
  ctx.hosts.set(m.id, link);
  ctx.log.info({ machineId: m.id, gpus: m.numGpus === 0 ? 'none' : `${m.numGpus}x ${m.gpuName}`, declared: m.gpuDeclared }, 'host registered');
  ctx.wake();
  return m;
}
