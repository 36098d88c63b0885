import { validateCreate, type CreateInstanceRequest } from '../../domain/instance/create.js';
import { refuseReservedNames } from '../../domain/instance/env.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { ControlContext } from '../context.js';
import { authorizeInstance, type Principal } from '../principal.js';
import { changeInstance } from './change-instance.js';
import { checkSnapshotImage } from '../volumes/snapshot.js';

/**
 * Recreate an instance's workload from a new or edited template (Vast's `update instance`): the new
 * image, env, onstart and command are checked as a create checks them and written, and a running
 * instance restarts with them keeping its disk (a reboot); a stopped one uses them at its next start.
 * GPUs, ports and disk size stay as rented (ports the new env publishes are not added).
 */
export async function updateInstanceWorkload(
  ctx: ControlContext,
  p: Principal,
  id: number,
  build: (current: InstanceRecord) => CreateInstanceRequest,
): Promise<InstanceRecord> {
  const inst = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  const r = build(inst);
  // A worker's env holds what the official clients send to workers (env-rules.ts); an instance's may not.
  refuseReservedNames(r.env.env, inst.endpointId !== null ? 'worker' : 'instance');
  await checkSnapshotImage(ctx, p, r.image);
  const { runtype } = validateCreate({ ...r, diskGb: inst.diskGb }, Number.POSITIVE_INFINITY);
  await ctx.store.setInstanceWorkload(id, {
    image: r.image,
    env: r.env.env,
    onstart: r.onstart,
    entrypoint: r.entrypoint,
    args: r.args,
    runtype,
    // An update that names a template records it; one that names none keeps the recorded one.
    ...(r.template != null ? { template: r.template } : {}),
  });
  ctx.log.info({ instanceId: id, image: r.image }, 'instance workload updated');
  if (inst.target === 'running') return (await changeInstance(ctx, p, id, 'reboot')).instance;
  return (await ctx.store.getInstance(id)) as InstanceRecord;
}
