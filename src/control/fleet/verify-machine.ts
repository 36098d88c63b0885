import type { ControlContext } from '../context.js';
import { authorizeAdmin, type Principal } from '../principal.js';

/** `verified` is an admin's mark on a machine; search shows only verified machines by default. */
export async function verifyMachine(ctx: ControlContext, p: Principal, machineId: number, verified: boolean): Promise<void> {
  authorizeAdmin(p, 'machine.write', { kind: 'machine', id: machineId });
  await ctx.store.setMachineVerified(machineId, verified);
  ctx.machines.invalidate();
  ctx.log.info({ machineId, verified }, 'machine verification changed');
}
