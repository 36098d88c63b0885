import { readdirSync, readlinkSync } from 'node:fs';
import { readProcText } from './proc-read.js';
import { labels, PF_KTHREAD } from './proc-table.js';

/** A workload of another Gantry install that runs as a uid this one would give its own instance. */
export interface ForeignWorkload {
  /** The other install's sandbox process (root's), and the workload process under it with the uid. */
  readonly sandboxPid: number;
  readonly pid: number;
  readonly uid: number;
  readonly runtimeId: string;
  readonly instanceId: number;
  /** The other install's instance disk (where its sandbox works), when readable. */
  readonly folder: string | null;
}

interface Proc {
  readonly pid: number;
  readonly ppid: number;
  readonly uid: number;
}

function readProc(pid: number): Proc | null {
  try {
    const stat = readProcText(`/proc/${pid}/stat`);
    const rest = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    if (rest.length < 7 || (Number(rest[6]) & PF_KTHREAD) !== 0 || rest[0] === 'Z') return null;
    const m = /^Uid:\s+(\d+)/m.exec(readProcText(`/proc/${pid}/status`));
    return m === null ? null : { pid, ppid: Number(rest[1]), uid: Number(m[1]) };
  } catch {
    return null; // ended while we looked
  }
}

function labelsOf(pid: number): { runtimeId: string; instanceId: number } | null {
  let env = '';
  try {
    env = readProcText(`/proc/${pid}/environ`);
  } catch {
    return null;
  }
  const l = labels(env);
  return l.runtimeId !== null && l.instanceId !== null ? { runtimeId: l.runtimeId, instanceId: l.instanceId } : null;
}

/**
 * The first workload of another install found running as `base + N`, the uid this install gives its own instance
 * N, or null. Told by its sandbox: a root process (the bwrap a Gantry started, labelled with its runtime and
 * instance) with another runtime id, one of whose descendants runs as that uid. A tenant can neither start a
 * root process nor change one's environment, so its own labels cannot make this refuse a start. An install too
 * old to claim its base (`uid-base-claim.ts`) is found this way.
 */
export function foreignWorkloadUnder(base: number, ownRuntimeId: string | null): ForeignWorkload | null {
  const procs = new Map<number, Proc>();
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const p = readProc(Number(name));
    if (p !== null) procs.set(p.pid, p);
  }
  for (const root of procs.values()) {
    if (root.uid !== 0) continue;
    const l = labelsOf(root.pid);
    if (l === null || l.runtimeId === ownRuntimeId) continue;
    const uid = base + l.instanceId;
    for (const p of procs.values()) {
      if (p.uid === uid && descendsFrom(procs, p, root.pid)) {
        return { sandboxPid: root.pid, pid: p.pid, uid, ...l, folder: sandboxFolder(procs, l) };
      }
    }
  }
  return null;
}

function descendsFrom(procs: ReadonlyMap<number, Proc>, p: Proc, ancestor: number): boolean {
  let at: Proc | undefined = p;
  for (let hops = 0; at !== undefined && hops < 64; hops++) {
    if (at.ppid === ancestor) return true;
    at = procs.get(at.ppid);
  }
  return false;
}

/**
 * The instance disk of the other install's sandbox: the working folder of one of its root processes with these
 * labels (the inner bwrap works in the disk; the outer one in `/`). Never a tenant's process's: it may `cd` anywhere.
 */
function sandboxFolder(procs: ReadonlyMap<number, Proc>, l: { runtimeId: string; instanceId: number }): string | null {
  for (const p of procs.values()) {
    if (p.uid !== 0) continue;
    const m = labelsOf(p.pid);
    const cwd = m !== null && m.runtimeId === l.runtimeId && m.instanceId === l.instanceId ? cwdOf(p.pid) : null;
    if (cwd !== null) return cwd;
  }
  return null;
}

/** Where a process works on the host, or null: unreadable, or `/` (the outer sandbox process), which names nothing. */
function cwdOf(pid: number): string | null {
  try {
    const cwd = readlinkSync(`/proc/${pid}/cwd`);
    return cwd === '/' ? null : cwd;
  } catch {
    return null;
  }
}
