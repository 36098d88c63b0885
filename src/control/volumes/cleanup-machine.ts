import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { reachHost } from '../reach-host.js';
import { authorize, type Principal } from '../principal.js';

export interface CleanupResult {
  readonly machineId: number;
  readonly ownerId: number;
  /** Volume folders removed: their volume was deleted (while the host was away) or is unknown to this control plane. */
  readonly removedVolumes: readonly number[];
  readonly freedMb: number;
}

/**
 * `cleanup machine` (host): free the machine's disk of storage nobody rents. Gantry instances have no end date,
 * so no instance expires; what can be left behind is the data of volumes deleted while the host was away.
 */
export async function cleanupMachine(ctx: ControlContext, p: Principal, machineId: number): Promise<CleanupResult> {
  authorize(p, 'machine.write', { kind: 'machine', id: machineId });
  const m = await ctx.store.getMachine(machineId, ctx.clock.now());
  if (!m || (m.ownerId !== p.accountId && !p.isAdmin)) throw new GantryError('MACHINE_NOT_FOUND', `No machine with id ${machineId}.`, { machineId });
  const host = await reachHost(ctx, machineId);
  if (host === undefined) throw new GantryError('HOST_UNAVAILABLE', `Machine ${machineId} is not connected; cleanup needs its host.`, { machineId });
  const onDisk = await host.storage({ kind: 'listVolumes' });
  const ids = Array.isArray(onDisk) ? onDisk.filter((x): x is number => Number.isSafeInteger(x)) : [];
  const dead = await ctx.store.deadVolumeIds(machineId, ids);
  let freedMb = 0;
  for (const volumeId of dead) {
    const r = (await host.storage({ kind: 'deleteVolume', volumeId })) as { freedMb?: unknown } | null;
    if (typeof r?.freedMb === 'number') freedMb += r.freedMb;
  }
  ctx.log.info({ machineId, removedVolumes: dead, freedMb }, 'machine cleaned up');
  return { machineId, ownerId: m.ownerId, removedVolumes: dead, freedMb: Math.round(freedMb * 10) / 10 };
}
