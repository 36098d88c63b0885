import { readlinkSync } from 'node:fs';
import { ProcTable, type ProcInfo } from './proc-table.js';

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

/**
 * The first workload of another install found running as `base + N`, the uid this install gives its own instance
 * N, or null. Told by its sandbox: a root process (the bwrap a Gantry started, labelled with its runtime and
 * instance) with another runtime id, one of whose descendants runs as that uid. A tenant can neither start a
 * root process nor change one's environment, so its own labels cannot make this refuse a start. An install too
 * old to claim its base (`uid-base-claim.ts`) is found this way.
 */
export async function foreignWorkloadUnder(base: number, ownRuntimeId: string | null): Promise<ForeignWorkload | null> {
  const table = (await new ProcTable(0, { uids: true }).snapshot()).filter((p) => p.state !== 'Z' && p.state !== 'X');
  const procs = new Map(table.map((p) => [p.pid, p]));
  const sandboxes = table.flatMap((p) =>
    p.uid === 0 && p.runtimeId !== null && p.instanceId !== null && p.runtimeId !== ownRuntimeId
      ? [{ pid: p.pid, runtimeId: p.runtimeId, instanceId: p.instanceId }]
      : [],
  );
  for (const root of sandboxes) {
    const { runtimeId, instanceId } = root;
    const uid = base + instanceId;
    const p = table.find((q) => q.uid === uid && descendsFrom(procs, q, root.pid));
    if (p === undefined) continue;
    // The inner bwrap works in the instance's disk, the outer one in `/`; never a tenant's process's (it may `cd` anywhere).
    const folder = sandboxes.map((q) => (q.runtimeId === runtimeId && q.instanceId === instanceId ? cwdOf(q.pid) : null)).find((f) => f !== null) ?? null;
    return { sandboxPid: root.pid, pid: p.pid, uid, runtimeId, instanceId, folder };
  }
  return null;
}

function descendsFrom(procs: ReadonlyMap<number, ProcInfo>, p: ProcInfo, ancestor: number): boolean {
  let at: ProcInfo | undefined = p;
  for (let hops = 0; at !== undefined && hops < 64; hops++) {
    if (at.ppid === ancestor) return true;
    at = procs.get(at.ppid);
  }
  return false;
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
