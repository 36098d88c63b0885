import { GantryError } from '../../domain/errors.js';
import { parseCopyPath, showCopyPath } from '../../domain/instance/copy-path.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { ControlContext } from '../context.js';
import { reachHost, type ReachedHost } from '../reach-host.js';
import { authorize, authorizeInstance, type Principal } from '../principal.js';

type CopyOrder = Parameters<ReachedHost['copy']>[0];

/** Copies this replica ordered, by destination: a `cancel copy` marks them, so their end reads "cancelled". */
const running = new WeakMap<ControlContext, Map<number, Set<{ cancelled: boolean }>>>();

/** The instance's host (through any replica), to run copies, while the instance runs with SSH access (the copy rides on it). */
async function copyHost(ctx: ControlContext, inst: InstanceRecord): Promise<ReachedHost> {
  const id = inst.id;
  if (inst.status !== 'running')
    throw new GantryError('NO_SSH_ACCESS', `Instance ${id} is ${inst.status}; a copy needs both instances running.`, { instanceId: id });
  if (inst.sshPort === null)
    throw new GantryError('NO_SSH_ACCESS', `Instance ${id} was created before instances had SSH access; create a new one.`, { instanceId: id });
  const host = await reachHost(ctx, inst.machineId);
  if (!host) throw new GantryError('HOST_UNAVAILABLE', `The host of instance ${id} is not connected now.`, { machineId: inst.machineId });
  return host;
}

/**
 * `copy C.SRC:/path C.DST:/path` (docs/decisions/011-instance-copy.md): both instances must be the caller's
 * (another tenant's is "not found"). The source's agent streams a tar of the path into the destination: on
 * the same machine directly, on another over the destination's SSH access with a one-time key its agent grants
 * for this copy. It answers at once, as Vast's does; the copy's state shows in the destination's status_msg.
 */
export async function copyBetween(
  ctx: ControlContext,
  p: Principal,
  ids: { src: number; dst: number },
  paths: { src: unknown; dst: unknown },
): Promise<{ msg: string }> {
  authorize(p, 'instance.manage');
  const src = authorizeInstance(p, await ctx.store.getInstance(ids.src), ids.src, 'instance.manage');
  const dst = authorizeInstance(p, await ctx.store.getInstance(ids.dst), ids.dst, 'instance.manage');
  const srcPath = parseCopyPath(paths.src, 'src_path');
  const dstPath = parseCopyPath(paths.dst, 'dst_path');
  const srcHost = await copyHost(ctx, src);
  const dstHost = await copyHost(ctx, dst);
  let via: CopyOrder['via'] = null;
  if (src.machineId !== dst.machineId) {
    // The source's agent logs in right after it takes the order: the key is good for one login within a call's bound.
    const grant = await dstHost.copyGrant(dst.id, ctx.settings.agentCallTimeoutMs);
    const addr = (await ctx.store.getMachine(dst.machineId, ctx.clock.now()))?.publicIp ?? ctx.settings.publicIp;
    via = { host: addr, port: dst.sshPort as number, ...grant };
  }
  const label = `copy from C.${src.id}:${showCopyPath(srcPath)} to ${showCopyPath(dstPath)}`;
  await ctx.store.setStatusMsg(dst.id, `${label}: running`);
  const mine = { cancelled: false };
  const byDst = running.get(ctx) ?? new Map<number, Set<{ cancelled: boolean }>>();
  running.set(ctx, byDst);
  const set = byDst.get(dst.id) ?? new Set();
  set.add(mine);
  byDst.set(dst.id, set);
  const finish = async (msg: string): Promise<void> => {
    set.delete(mine);
    if (set.size === 0 && byDst.get(dst.id) === set) byDst.delete(dst.id);
    ctx.log.info({ srcId: src.id, dstId: dst.id, msg }, 'copy between instances ended');
    await ctx.store.setStatusMsg(dst.id, msg).catch(() => undefined);
  };
  void srcHost
    .copy({ src: { instanceId: src.id, path: srcPath }, dst: { instanceId: dst.id, path: dstPath }, via, timeoutMs: ctx.settings.copyTimeoutMs })
    .then(
      (r) => finish(`${label}: done, ${r.bytes} bytes`),
      (err: unknown) => finish(mine.cancelled ? `${label}: cancelled` : `${label}: failed: ${err instanceof Error ? err.message : String(err)}`.slice(0, 1000)),
    );
  return { msg: `Copy from instance ${src.id} to instance ${dst.id} started; instance ${dst.id}'s status_msg shows when it ends.` };
}

/** `cancel copy DST`: end every copy into the instance (its host ends those it runs and those pushed in from other hosts). */
export async function cancelCopiesInto(ctx: ControlContext, p: Principal, id: number): Promise<string> {
  authorize(p, 'instance.manage', id);
  const dst = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  const host = dst.status === 'running' ? await reachHost(ctx, dst.machineId) : undefined;
  for (const c of running.get(ctx)?.get(id) ?? []) c.cancelled = true;
  const n = host === undefined ? 0 : await host.cancelCopies(id);
  return n === 0 ? `No copy into instance ${id} is running; nothing to cancel.` : `Cancelled ${n} copy(ies) into instance ${id}.`;
}
