import { spawn } from 'node:child_process';
import { readdirSync, realpathSync, statSync } from 'node:fs';
import { dirname, join, sep } from 'node:path';
import type { Writable } from 'node:stream';
import { ENV_HANDOFF, envRecords } from './sandbox-env.js';

/**
 * The process runtime's sandbox: bubblewrap (`bwrap`, Debian's `bubblewrap`) with a user, PID, IPC and UTS
 * namespace of its own and a mount view in which Gantry's data dir is an empty tmpfs with only this
 * instance's folders bound back. The network stays the host's (instance ports must be reachable).
 *
 * Two identities. Gantry as root: bwrap runs as root (so it can bind folders under a private 0700 parent) with no
 * user namespace, and `setpriv` drops the workload to the instance's own host uid/gid with no capabilities, so
 * the kernel itself keeps it from root's files and from other tenants' processes. Gantry as another user: a user
 * namespace as that user (bwrap unprivileged); the mount and PID view are then the only wall.
 * Why bwrap and not namespaces by hand: docs/decisions/008-process-sandbox.md.
 */
export interface SandboxMounts {
  /** Gantry's data dir: hidden entirely (keys, database, every other instance). */
  readonly dataDir: string;
  /** The instance's disk: bound back read-write. */
  readonly disk: string;
  /** The instance's runtime files (wrapper, onstart): bound back read-only. */
  readonly meta: string;
  /** Where the wrapper writes exit codes and output: bound back read-write. */
  readonly out: string;
  /** Paths the workload must still find at the same place (node, Gantry's package): bound read-only. */
  readonly readOnly: readonly string[];
  /** Folders hidden by an empty tmpfs (the home of the user running Gantry, private parents of `readOnly`). */
  readonly hidden: readonly string[];
  /** Device nodes passed through as they are (`/dev/nvidia*`). */
  readonly devices: readonly string[];
  /** Host uid/gid the workload runs as (bwrap then runs as root); null: the caller's own, in a user namespace. */
  readonly identity: { readonly uid: number; readonly gid: number } | null;
  /** Volumes: host folders bound read-write onto mount points inside the disk. */
  readonly binds?: readonly { readonly source: string; readonly target: string }[];
}

/** The command that drops from root to `id` with no capabilities left and none to gain: a setuid-root program run inside then keeps the tenant's uid (util-linux `setpriv`). */
export function dropTo(id: { uid: number; gid: number }): string[] {
  return ['setpriv', `--reuid=${id.uid}`, `--regid=${id.gid}`, '--clear-groups', '--inh-caps=-all', '--bounding-set=-all', '--no-new-privs', '--'];
}

const NAMESPACES = ['--unshare-pid', '--unshare-ipc', '--unshare-uts', '--new-session'];

type MountOp = { readonly kind: 'tmpfs' | 'ro' | 'rw'; readonly path: string; readonly source?: string };

/** The `bwrap` argv (without the program name) that runs `command` inside the sandbox. */
export function bwrapArgs(
  m: SandboxMounts,
  command: readonly string[],
  o: { dieWithParent?: boolean; accounts?: { readonly passwd: string; readonly group: string } } = {},
): string[] {
  const args = m.identity === null ? ['--unshare-user', ...NAMESPACES] : [...NAMESPACES];
  // An SSH session's sandbox ends with its bwrap: killing that one process ends all of it.
  if (o.dieWithParent === true) args.push('--die-with-parent');
  args.push('--ro-bind', '/', '/', '--dev', '/dev');
  for (const d of m.devices) args.push('--dev-bind-try', d, d);
  args.push('--proc', '/proc');
  const ops: MountOp[] = [
    { kind: 'tmpfs', path: '/tmp' },
    { kind: 'tmpfs', path: m.dataDir },
    ...m.hidden.map((path): MountOp => ({ kind: 'tmpfs', path })),
    ...m.readOnly.map((path): MountOp => ({ kind: 'ro', path })),
    { kind: 'rw', path: m.disk },
    { kind: 'ro', path: m.meta },
    { kind: 'rw', path: m.out },
    ...(m.binds ?? []).map((b): MountOp => ({ kind: 'rw', path: b.target, source: b.source })),
  ];
  // Mounts apply in order, a later one over an earlier: shallow before deep, and at one path a hiding tmpfs
  // before a bind. So a read-only package folder that holds the data dir cannot show the data dir again.
  const depth = (p: string): number => p.split(sep).filter((s) => s !== '').length;
  const rank = (k: MountOp['kind']): number => (k === 'tmpfs' ? 0 : 1);
  const seen = new Set<string>();
  const ordered = ops
    .map((op, i) => ({ op, i }))
    .sort((a, b) => depth(a.op.path) - depth(b.op.path) || rank(a.op.kind) - rank(b.op.kind) || a.i - b.i)
    .map((x) => x.op)
    .filter((op) => {
      const key = `${op.kind} ${op.path}`;
      if (seen.has(key)) return false;
      seen.add(key);
      return true;
    });
  const done: MountOp[] = [];
  for (const op of ordered) {
    if (op.kind === 'tmpfs') args.push('--tmpfs', op.path);
    else {
      // Folders bwrap makes in a tmpfs for a bind's mount point copy the host folder's mode (0700 in the data
      // dir): made first as 0755, or the workload's own uid could not walk down to its disk.
      const under = done.filter((d) => op.path.startsWith(d.path + sep)).sort((a, b) => depth(b.path) - depth(a.path))[0];
      if (under?.kind === 'tmpfs') {
        const parts = op.path
          .slice(under.path.length + 1)
          .split(sep)
          .slice(0, -1);
        for (let i = 1; i <= parts.length; i++) args.push('--perms', '0755', '--dir', join(under.path, ...parts.slice(0, i)));
      }
      args.push(op.kind === 'ro' ? '--ro-bind' : '--bind', op.source ?? op.path, op.path);
    }
    done.push(op);
  }
  // The instance's uid has no entry in the host's passwd: OpenSSH's sftp-server, scp and ssh, and rsync's daemon
  // refuse to run without one. Files with the host's entries plus the instance's own are bound over them.
  if (o.accounts !== undefined) args.push('--ro-bind', o.accounts.passwd, '/etc/passwd', '--ro-bind', o.accounts.group, '/etc/group');
  // What it runs gets the workload's environment only once it runs as the tenant (sandbox-env.ts).
  args.push('--chdir', m.disk, '--', ...(m.identity === null ? [] : dropTo(m.identity)), ...ENV_HANDOFF, ...command);
  return args;
}

/** The NVIDIA device nodes present (`/dev/nvidia0`, `/dev/nvidiactl`, `/dev/nvidia-uvm`, `/dev/nvidia-caps`...). */
export function nvidiaDevices(devDir = '/dev'): string[] {
  try {
    return readdirSync(devDir)
      .filter((n) => n.startsWith('nvidia'))
      .sort()
      .map((n) => join(devDir, n));
  } catch {
    return [];
  }
}

/**
 * What the workload must see of the host beyond `/` read-only: each path (resolved through symlinks) plus the
 * highest ancestor that others cannot enter (a 0700 home, a `mktemp -d` folder). That ancestor is covered by a
 * tmpfs and the path bound back, so a sandbox user can reach Gantry's package without reading its neighbours.
 */
export function reachable(paths: readonly string[]): { readOnly: string[]; hidden: string[] } {
  const readOnly = new Set<string>();
  const hidden = new Set<string>();
  for (const p of paths) {
    let real: string;
    try {
      real = realpathSync(p);
    } catch {
      continue;
    }
    readOnly.add(real);
    let top: string | null = null;
    for (let d = dirname(real); d !== dirname(d); d = dirname(d)) if (closedToOthers(d)) top = d;
    if (top !== null) hidden.add(top);
  }
  // Keep only the outermost closed folder of each chain: a tmpfs there already hides everything under it.
  const outer = [...hidden].filter((h) => ![...hidden].some((o) => o !== h && h.startsWith(o + sep)));
  return { readOnly: [...readOnly], hidden: outer };
}

function closedToOthers(dir: string): boolean {
  try {
    return (statSync(dir).mode & 0o001) === 0;
  } catch {
    return false;
  }
}

/** Whether a trivial sandbox runs here (bwrap and, as root, setpriv installed; else user namespaces allowed). */
export function probeBwrap(o: { identity: { uid: number; gid: number } | null; timeoutMs: number }): Promise<{ ok: boolean; reason: string }> {
  return new Promise((resolve) => {
    const ns = o.identity === null ? ['--unshare-user', ...NAMESPACES] : NAMESPACES;
    const drop = o.identity === null ? [] : dropTo(o.identity);
    // Through the environment's hand-off, as every workload: a host without bash fails here, not at each start.
    const args = [...ns, '--ro-bind', '/', '/', '--dev', '/dev', '--proc', '/proc', '--tmpfs', '/tmp', '--', ...drop, ...ENV_HANDOFF, 'true'];
    let err = '';
    const child = spawn('bwrap', args, { stdio: ['ignore', 'ignore', 'pipe', 'pipe'] });
    const env = child.stdio[3] as Writable | null;
    env?.on('error', () => undefined);
    env?.end(envRecords({}));
    const timer = setTimeout(() => child.kill('SIGKILL'), o.timeoutMs);
    child.stderr?.on('data', (d: Buffer) => {
      if (err.length < 1000) err += d.toString();
    });
    child.once('error', (e) => {
      clearTimeout(timer);
      resolve({ ok: false, reason: e.message.includes('ENOENT') ? 'bwrap is not installed (Debian: apt-get install bubblewrap)' : e.message });
    });
    child.once('exit', (code, signal) => {
      clearTimeout(timer);
      resolve(code === 0 ? { ok: true, reason: '' } : { ok: false, reason: `bwrap failed (${signal ?? `exit ${String(code)}`}): ${err.trim().slice(0, 300)}` });
    });
  });
}

/** Resolves once the child runs; rejects when it could not be started (no such program, no sandbox). */
export function spawned(child: ReturnType<typeof spawn>): Promise<void> {
  return new Promise((resolve, reject) => {
    child.once('spawn', resolve);
    child.once('error', reject);
  });
}
