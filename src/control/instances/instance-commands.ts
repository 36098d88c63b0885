import { GantryError } from '../../domain/errors.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { ControlContext } from '../context.js';
import { reachHost, type ReachedHost } from '../reach-host.js';
import { newToken } from '../keys.js';
import { cancelCopiesInto, copyBetween } from './instance-copy.js';
import { ownResult } from './request-logs.js';
import { authorize, authorizeInstance, type Principal } from '../principal.js';

/** Output kept of one `execute` (the result URL serves it). */
const MAX_EXECUTE_OUTPUT = 1024 * 1024;
/** What Vast's `execute` offers: listing, disk usage and removal, nothing a shell would interpret. */
const EXECUTABLE = new Set(['ls', 'rm', 'du']);

/** The instance's host (through any replica), to run commands in it with the agent's SSH access, while the instance runs. */
async function commandHost(ctx: ControlContext, p: Principal, id: number): Promise<{ inst: InstanceRecord; host: ReachedHost }> {
  const inst = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  if (inst.status !== 'running') throw new GantryError('NO_SSH_ACCESS', `Instance ${id} is ${inst.status}; start it first.`, { instanceId: id });
  if (inst.sshPort === null)
    throw new GantryError('NO_SSH_ACCESS', `Instance ${id} was created before instances had SSH access; create a new one.`, { instanceId: id });
  const host = await reachHost(ctx, inst.machineId);
  if (!host) throw new GantryError('HOST_UNAVAILABLE', `The host of instance ${id} is not connected now.`, { machineId: inst.machineId });
  return { inst, host };
}

/**
 * Vast's constrained `execute`: `ls`, `du` or `rm` with plain arguments, run inside the instance as its
 * workload runs (no shell), the output kept behind a short-lived result URL as logs are.
 */
export async function executeCommand(ctx: ControlContext, p: Principal, id: number, command: unknown): Promise<{ token: string }> {
  authorize(p, 'instance.manage', { kind: 'instance', id });
  // Whose instance it is comes first: another tenant learns nothing from how its command was refused.
  authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  const argv = parseConstrained(command);
  const { host } = await commandHost(ctx, p, id);
  const r = await host.exec(id, argv, { timeoutMs: ctx.settings.executeTimeoutMs, maxBytes: MAX_EXECUTE_OUTPUT });
  const token = newToken();
  await ctx.store.putResult(token, r.output, ctx.clock.now() + ctx.settings.resultTtlMs);
  await ownResult(ctx, p, token);
  return { token };
}

/** `ls -l /`, `du -d2 -h`, `rm -r 'a b'`: words split on blanks, quotes kept only as grouping. */
export function parseConstrained(command: unknown): string[] {
  if (typeof command !== 'string' || command.trim() === '')
    throw new GantryError('MISSING_INPUT', "'command' must be a command such as 'ls -l /'.", { field: 'command' });
  if (/[;&|`$<>(){}\\\n\r*?[\]~!#\0]/.test(command))
    throw new GantryError('INVALID_ARGUMENT', 'execute runs one ls, du or rm with plain arguments: no shell characters (; | & $ ` < > * ...) nor NUL.', {
      field: 'command',
    });
  const words = [...command.matchAll(/'([^']*)'|"([^"]*)"|(\S+)/g)].map((m) => m[1] ?? m[2] ?? m[3] ?? '');
  if (!EXECUTABLE.has(words[0] ?? ''))
    throw new GantryError('INVALID_ARGUMENT', `execute runs only ls, du and rm (as on Vast); got '${(words[0] ?? '').slice(0, 40)}'.`, { field: 'command' });
  return words;
}

/** One side of a copy as the clients send it: an instance (`123`, `C.123`), the caller's machine, or something Gantry does not offer. */
type CopySide = { kind: 'instance'; id: number } | { kind: 'local' } | { kind: 'other'; what: string };

export function copySide(v: unknown): CopySide {
  if (v === null || v === undefined || v === 'local' || v === '') return { kind: 'local' };
  const s = typeof v === 'string' || typeof v === 'number' ? String(v) : JSON.stringify(v);
  const m = /^(?:C\.)?(\d{1,15})$/.exec(s);
  if (m !== null) return { kind: 'instance', id: Number(m[1]) };
  return { kind: 'other', what: s.slice(0, 60) };
}

function refuseOther(side: CopySide): void {
  if (side.kind !== 'other') return;
  const why = side.what.startsWith('V.')
    ? 'volume copies are not offered by this copy route'
    : `'${side.what}' is a cloud connection, and no cloud target is configured on this offline Gantry`;
  throw new GantryError('COPY_UNAVAILABLE', `Copy from or to ${side.what} is not available: ${why}. Copy between instances and your machine instead.`, {
    location: side.what,
  });
}

export interface CopyAnswer {
  /** Where the client's own rsync connects (local ↔ instance copies), as Vast answers them. */
  readonly src_addr?: string;
  readonly src_port?: number;
  readonly dst_addr?: string;
  readonly dst_port?: number;
  readonly msg: string;
}

/**
 * `copy` (`/commands/rsync/`, `/commands/copy_direct/`): a local side is copied by the client itself with
 * rsync over the instance's SSH access (Gantry answers where to connect); between two instances the agents copy
 * (instance-copy.ts). To or from clouds, VMs and volumes it is refused with the reason.
 */
export async function copyData(
  ctx: ControlContext,
  p: Principal,
  body: { src: unknown; dst: unknown; srcPath: unknown; dstPath: unknown },
): Promise<CopyAnswer> {
  authorize(p, 'instance.manage');
  const src = copySide(body.src);
  const dst = copySide(body.dst);
  refuseOther(src);
  refuseOther(dst);
  if (src.kind === 'local' && dst.kind === 'local') throw new GantryError('MISSING_INPUT', 'A copy needs an instance on at least one side (ID:path).', {});
  if (src.kind === 'instance' && dst.kind === 'instance') {
    if (typeof body.srcPath !== 'string' || typeof body.dstPath !== 'string')
      throw new GantryError(
        'COPY_UNAVAILABLE',
        'Copying a whole VM image (vm copy) is not available: Gantry has no VM instances. Give ID:path on both sides.',
        {},
      );
    return copyBetween(ctx, p, { src: src.id, dst: dst.id }, { src: body.srcPath, dst: body.dstPath });
  }
  const side = src.kind === 'instance' ? src : (dst as { kind: 'instance'; id: number });
  const { inst } = await commandHost(ctx, p, side.id);
  const addr = (await ctx.store.getMachine(inst.machineId, ctx.clock.now()))?.publicIp ?? ctx.settings.publicIp;
  const port = inst.sshPort as number;
  return src.kind === 'instance'
    ? { src_addr: addr, src_port: port, msg: `Copy from instance ${side.id} with rsync over SSH at ${addr}:${port}.` }
    : { dst_addr: addr, dst_port: port, msg: `Copy to instance ${side.id} with rsync over SSH at ${addr}:${port}.` };
}

/** `cancel copy`: ends the copies between instances running into the destination (instance-copy.ts). */
export async function cancelCopies(ctx: ControlContext, p: Principal, dst: unknown): Promise<string> {
  authorize(p, 'instance.manage');
  const side = copySide(dst);
  if (side.kind !== 'instance') throw new GantryError('INVALID_ARGUMENT', "'dst_id' must be the id of an instance (ID or C.ID).", { field: 'dst_id' });
  return cancelCopiesInto(ctx, p, side.id);
}

/** `cloud copy` and `cancel sync` (`/commands/rclone/`): there are no cloud connections on an offline Gantry. */
export async function refuseCloudCopy(ctx: ControlContext, p: Principal, instance: unknown): Promise<never> {
  authorize(p, 'instance.manage');
  const side = copySide(instance);
  if (side.kind === 'instance') authorizeInstance(p, await ctx.store.getInstance(side.id), side.id, 'instance.manage');
  throw new GantryError(
    'COPY_UNAVAILABLE',
    'Cloud copy and sync are not available: Gantry runs offline and has no cloud connection configured. Copy to your machine (copy C.ID:PATH local:DIR) and upload from there.',
    {},
  );
}
