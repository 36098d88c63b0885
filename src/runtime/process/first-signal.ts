import type { ChildProcess } from 'node:child_process';
import { existsSync } from 'node:fs';
import { readProcText } from './proc-read.js';

/** USER_HZ on Linux: the unit of a process's start time in /proc. */
export const CLOCK_TICKS = 100;

/**
 * What a stop can signal before it scans /proc: the groups of the leader's family (the leader's own, and
 * those its children lead: the session a bwrap sandbox's inner process starts with --new-session), and the
 * family itself as it is now, from the leader down (each process's `children`). The scan that finds every
 * labelled process takes milliseconds, tens on a busy host, and the signal need not wait for it; the scan
 * then signals only what these groups did not reach: a process not in the family here was forked after it,
 * maybe after the signal. For a leader this process started and that has not exited only: its pid, and so
 * its group id, cannot belong to anything else yet.
 */
export function leaderFamily(leader: number): { groups: number[]; members: Set<number> } {
  const groups = [leader];
  const members = new Set<number>();
  for (const queue = [leader]; queue.length > 0 && members.size < 10_000;) {
    const pid = queue.pop() as number;
    if (members.has(pid)) continue;
    members.add(pid);
    for (const child of childrenOf(pid)) {
      queue.push(child);
      if (pid === leader && groupOf(child) === child) groups.push(child);
    }
  }
  return { groups, members };
}

/**
 * SIGKILL to the group a child of this process leads (an exec session's). Once the child has ended, a process with
 * its id is another's, and so is the group of that id: not signalled. With none, the id still names what is left
 * of the child's group, if anything (Linux gives no process an id a group still holds).
 */
export function killChildGroup(child: Pick<ChildProcess, 'pid' | 'exitCode' | 'signalCode'>): void {
  const pid = child.pid ?? 0;
  if ((child.exitCode !== null || child.signalCode !== null) && existsSync(`/proc/${pid}`)) return;
  trySignal(-pid, 'SIGKILL');
}

export function trySignal(pid: number, signal: NodeJS.Signals): void {
  if (pid === 0) return;
  try {
    process.kill(pid, signal);
  } catch {
    // Already gone (ESRCH): that is the goal.
  }
}

function childrenOf(pid: number): number[] {
  try {
    return readProcText(`/proc/${pid}/task/${pid}/children`).trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function groupOf(pid: number): number {
  try {
    const text = readProcText(`/proc/${pid}/stat`);
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return -1;
  }
}
