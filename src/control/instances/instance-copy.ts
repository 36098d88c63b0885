import { GantryError } from '../../domain/errors.js';
import { COPY_CANCELLED, parseCopyPath, showCopyPath } from '../../domain/instance/copy-path.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { ControlContext } from '../context.js';
import { callViaAgentReplica, type HostCallOps } from '../host-calls.js';
import { reachHost, type ReachedHost } from '../reach-host.js';
import { authorize, authorizeInstance, type Principal } from '../principal.js';

type CopyOrder = Parameters<ReachedHost['copy']>[0];
type CopyReport = Awaited<ReturnType<ReachedHost['copy']>>;

/** How a destination's status_msg ends while a copy into it runs. */
const RUNNING = ': running';

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
  await ctx.store.setStatusMsg(dst.id, label + RUNNING);
  const order: CopyOrder = {
    src: { instanceId: src.id, path: srcPath },
    dst: { instanceId: dst.id, path: dstPath },
    via,
    timeoutMs: ctx.settings.copyTimeoutMs,
  };
  if (!srcHost.viaReplica) void copyAndRecord(ctx, (o) => srcHost.copy(o), { order, label });
  else {
    // The replica that holds the source's agent waits for the copy and records its end, so this one may stop
    // meanwhile. A failure here means it did not record it (no replica took the call, or none answered in time).
    const bound = order.timeoutMs + ctx.settings.agentCallTimeoutMs + 1_000;
    // Not over a message that replica wrote (its answer lost on the way back): only over "running".
    void callViaAgentReplica(ctx, src.machineId, COPY_CALL, { order, label }, bound).catch((err: unknown) =>
      record(ctx, order, label, `${label}: failed: ${messageOf(err)}`, label + RUNNING),
    );
  }
  return { msg: `Copy from instance ${src.id} to instance ${dst.id} started; instance ${dst.id}'s status_msg shows when it ends.` };
}

/**
 * A host joined this replica: the copies from its instances that an earlier session ran report to nobody now.
 * Only the replica holding the source's session records a copy's end, and an agent's results belong to the
 * session they answer; a control plane killed (or a replica gone) mid-copy left `running` in the destination's
 * status_msg, which nothing else would change while it runs. Those are recorded failed (over `running` only:
 * a copy that recorded its end meanwhile keeps it).
 */
export async function failCopiesOfEndedSessions(ctx: ControlContext, machineId: number): Promise<void> {
  const sources = await ctx.store.liveInstanceIds(machineId);
  if (sources.size === 0) return;
  for (const { id, statusMsg } of await ctx.store.runningWithStatusMsg(`copy from C.%${RUNNING}`)) {
    const src = /^copy from C\.(\d+):/.exec(statusMsg)?.[1];
    if (src === undefined || !sources.has(Number(src)) || !statusMsg.endsWith(RUNNING)) continue;
    const label = statusMsg.slice(0, -RUNNING.length);
    const msg = `${label}: failed: the control plane it reported to stopped before it ended; what it copied may be incomplete, copy again`;
    await record(ctx, { src: { instanceId: Number(src) }, dst: { instanceId: id } }, label, msg, statusMsg);
  }
}

/** `cancel copy DST`: end every copy into the instance (its host ends those it runs and those pushed in from other hosts). */
export async function cancelCopiesInto(ctx: ControlContext, p: Principal, id: number): Promise<string> {
  authorize(p, 'instance.manage', { kind: 'instance', id });
  const dst = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  const host = dst.status === 'running' ? await reachHost(ctx, dst.machineId) : undefined;
  const n = host === undefined ? 0 : await host.cancelCopies(id);
  return n === 0 ? `No copy into instance ${id} is running; nothing to cancel.` : `Cancelled ${n} copy(ies) into instance ${id}.`;
}

/** The host call that runs a copy on the replica holding the source's agent, which records its end. */
const COPY_CALL = 'copy';

/** What a copy's host call carries: the order and the words its status_msg begins with. */
interface CopyCall {
  readonly order: CopyOrder;
  readonly label: string;
}

/**
 * Run a copy through a host this replica holds and write how it ended into the destination's status_msg:
 * done, cancelled (the host says so, whichever replica the `cancel copy` went through), or failed with the reason.
 */
async function copyAndRecord(ctx: ControlContext, copy: (o: CopyOrder) => Promise<CopyReport>, { order, label }: CopyCall): Promise<string> {
  let msg: string;
  try {
    msg = `${label}: done, ${(await copy(order)).bytes} bytes`;
  } catch (err) {
    const text = messageOf(err);
    msg = text === COPY_CANCELLED ? `${label}: cancelled` : `${label}: failed: ${text}`;
  }
  await record(ctx, order, label, msg);
  return msg;
}

async function record(
  ctx: ControlContext,
  order: { readonly src: { readonly instanceId: number }; readonly dst: { readonly instanceId: number } },
  label: string,
  msg: string,
  onlyOver?: string,
): Promise<void> {
  ctx.log.info({ srcId: order.src.instanceId, dstId: order.dst.instanceId, msg }, 'copy between instances ended');
  await ctx.store.setStatusMsg(order.dst.instanceId, msg.slice(0, 1000), onlyOver).catch(() => undefined);
}

const messageOf = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/** The `copy` host call, answered by the replica that holds the source's agent. */
export function copyHostCalls(ctx: ControlContext): HostCallOps {
  return {
    [COPY_CALL]: {
      keep: 'call',
      run: async (host, raw) => {
        const call = raw as CopyCall;
        if (host.copy === undefined) throw new GantryError('NO_SSH_ACCESS', 'This host cannot copy between instances.');
        // Never fails once running: its end is recorded here, whatever it was (the asker records only a call not run).
        return copyAndRecord(ctx, host.copy.bind(host), call);
      },
    },
  };
}
