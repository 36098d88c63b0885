import { readdirSync } from 'node:fs';
import { readProcText } from './proc-read.js';

/** One process as /proc shows it, with the Gantry labels found in its environment. */
export interface ProcInfo {
  readonly pid: number;
  /** Its parent's pid (a sandbox's processes descend from the root bwrap its Gantry started). */
  readonly ppid: number;
  readonly pgrp: number;
  readonly state: string;
  readonly startTicks: number;
  readonly cpuTicks: number;
  readonly rssPages: number;
  readonly runtimeId: string | null;
  readonly instanceId: number | null;
  /** Its real uid, when the table was asked to read uids (a sandbox gives each instance its own). */
  readonly uid: number | null;
}

/** The variables that label a workload's processes: whose runtime, which instance (set by Gantry, never a user). */
export const LABEL_VARS = ['GANTRY_RUNTIME_ID', 'GANTRY_INSTANCE_ID'] as const;
const LABEL_RUNTIME = `${LABEL_VARS[0]}=`;
const LABEL_INSTANCE = `${LABEL_VARS[1]}=`;

/** The kernel's flag on its own threads (`flags` in /proc/PID/stat): never a workload's. */
const PF_KTHREAD = 0x00200000;

function parseStat(pid: number, text: string): Omit<ProcInfo, 'runtimeId' | 'instanceId' | 'uid'> | null {
  // The command name may hold spaces and parentheses: fields start after the last ')'.
  const rest = text.slice(text.lastIndexOf(')') + 2).split(' ');
  // A kernel thread is left out: most of a host's processes, and reading their uids was half of a scan.
  if (rest.length < 22 || (Number(rest[6]) & PF_KTHREAD) !== 0) return null;
  return {
    pid,
    state: rest[0] ?? '?',
    ppid: Number(rest[1]),
    pgrp: Number(rest[2]),
    cpuTicks: Number(rest[11]) + Number(rest[12]),
    startTicks: Number(rest[19]),
    rssPages: Number(rest[21]),
  };
}

function labels(environ: string): { runtimeId: string | null; instanceId: number | null } {
  let runtimeId: string | null = null;
  let instanceId: number | null = null;
  for (const kv of environ.split('\0')) {
    if (kv.startsWith(LABEL_RUNTIME)) runtimeId = kv.slice(LABEL_RUNTIME.length);
    else if (kv.startsWith(LABEL_INSTANCE)) {
      const n = Number(kv.slice(LABEL_INSTANCE.length));
      instanceId = Number.isSafeInteger(n) ? n : null;
    }
  }
  return { runtimeId, instanceId };
}

/**
 * Snapshot of /proc, cached briefly: one reconcile pass inspects many instances and each
 * inspection would otherwise rescan. Labels are read once per (pid, start time).
 */
export class ProcTable {
  readonly #ttlMs: number;
  #at = 0;
  #snapshot: Promise<ProcInfo[]> | null = null;
  readonly #labelCache = new Map<string, { runtimeId: string | null; instanceId: number | null }>();
  readonly #uids: boolean;

  /** `uids`: read each process's real uid at every scan (not kept: a process may still drop to its sandbox's). */
  constructor(ttlMs = 200, o: { uids?: boolean } = {}) {
    this.#ttlMs = ttlMs;
    this.#uids = o.uids === true;
  }

  invalidate(): void {
    this.#snapshot = null;
  }

  snapshot(): Promise<ProcInfo[]> {
    const now = Date.now();
    if (this.#snapshot === null || now - this.#at > this.#ttlMs) {
      this.#at = now;
      this.#snapshot = this.#scan();
    }
    return this.#snapshot;
  }

  /**
   * Synchronous reads, on purpose: a few hundred small /proc files read one by one take a few
   * milliseconds, while the same reads through the thread pool took tens (every stop waits for a scan).
   */
  async #scan(): Promise<ProcInfo[]> {
    const seen = new Set<string>();
    const out: ProcInfo[] = [];
    for (const name of readdirSync('/proc')) {
      if (!/^\d+$/.test(name)) continue;
      const pid = Number(name);
      try {
        const stat = parseStat(pid, readProcText(`/proc/${pid}/stat`));
        if (stat === null) continue;
        const key = `${pid}:${stat.startTicks}`;
        seen.add(key);
        let l = this.#labelCache.get(key);
        if (l === undefined) {
          l = labels(readEnviron(pid));
          this.#labelCache.set(key, l);
        }
        out.push({ ...stat, ...l, uid: this.#uids ? readUid(pid) : null });
      } catch {
        // The process ended while we looked: it is simply not in this snapshot.
      }
    }
    for (const key of this.#labelCache.keys()) if (!seen.has(key)) this.#labelCache.delete(key);
    return out;
  }
}

/** The real uid from /proc/PID/status (the owner of /proc/PID is root for a process that made itself undumpable). */
function readUid(pid: number): number | null {
  try {
    const m = /^Uid:\s+(\d+)/m.exec(readProcText(`/proc/${pid}/status`));
    return m === null ? null : Number(m[1]);
  } catch {
    return null;
  }
}

function readEnviron(pid: number): string {
  try {
    return readProcText(`/proc/${pid}/environ`);
  } catch {
    return '';
  }
}

/**
 * The live processes of one instance: those with its labels; the members of its recorded group (they may
 * have cleared their environment); and, in a sandbox with a uid per instance, every process of that uid.
 * One that left the group (setsid) and overwrote its environment kept its uid, which it cannot give up,
 * and after a restart of Gantry nothing else ties it to its instance (the sandbox's inner session is not
 * recorded).
 */
export function instanceProcs(table: readonly ProcInfo[], runtimeId: string, instanceId: number, group: RecordedGroup | null, uid: number | null): ProcInfo[] {
  // Labels are any process's to set (a workload reads the runtime id in its own environment): with a uid per
  // instance, a labelled process counts only as the instance's uid's or root's (bwrap, outside and in). Another
  // tenant's process labelled as this instance made its start "adopt" it and start nothing.
  const own = (p: ProcInfo): boolean =>
    p.runtimeId === runtimeId && p.instanceId === instanceId && (uid === null || p.uid === null || p.uid === uid || p.uid === 0);
  const pgid = group !== null && stillOurs(table, group, own) ? group.pgid : 0;
  return table.filter((p) => p.state !== 'Z' && p.state !== 'X' && (own(p) || (pgid > 0 && p.pgrp === pgid) || (uid !== null && p.uid === uid)));
}

/** The group the workload's wrapper led, as its start recorded it: its id, and the leader's start time (null: not recorded). */
export interface RecordedGroup {
  readonly pgid: number;
  readonly leaderTicks: number | null;
}

/**
 * Whether the recorded group is still the workload's, not one that reused its id. Linux gives no process an id
 * still in use as a group's, so while the group has a member it is the same group; but once the workload had
 * ended, a new process could take the id and lead a group of its own, which a stop or a look at this instance
 * then took for the workload's (and signalled). A process with that id is the leader it was only with the start
 * time recorded (or, recorded before start times were, with the workload's labels); with none, the members are
 * what is left of the workload's group.
 */
function stillOurs(table: readonly ProcInfo[], g: RecordedGroup, own: (p: ProcInfo) => boolean): boolean {
  const leader = table.find((p) => p.pid === g.pgid);
  if (leader === undefined) return true;
  return g.leaderTicks !== null ? leader.startTicks === g.leaderTicks : own(leader);
}

/** The group the start recorded: `pgid` (its id) and `leader-start` (its leader's start time; absent before it was recorded), as read; null when there is none. */
export function readGroup(pgidText: string, leaderStartText = ''): RecordedGroup | null {
  const pgid = Number(pgidText.trim());
  if (!Number.isInteger(pgid) || pgid <= 1) return null;
  const ticks = leaderStartText.trim() === '' ? NaN : Number(leaderStartText.trim());
  return { pgid, leaderTicks: Number.isInteger(ticks) ? ticks : null };
}

/** A live process's start time (ticks since boot), or null once it is gone. */
export function startTicksOf(pid: number): number | null {
  try {
    return parseStat(pid, readProcText(`/proc/${pid}/stat`))?.startTicks ?? null;
  } catch {
    return null;
  }
}

/** Whether every one of these processes has ended (its /proc entry is gone, a zombie, or another process's now). */
export function allGone(procs: readonly ProcInfo[]): boolean {
  for (const p of procs) {
    let stat: ReturnType<typeof parseStat> = null;
    try {
      stat = parseStat(p.pid, readProcText(`/proc/${p.pid}/stat`));
    } catch {
      // Its entry is gone: so is it.
    }
    if (stat !== null && stat.startTicks === p.startTicks && stat.state !== 'Z' && stat.state !== 'X') return false;
  }
  return true;
}
