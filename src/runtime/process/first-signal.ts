import { readFileSync } from 'node:fs';

/** USER_HZ on Linux: the unit of a process's start time in /proc. */
export const CLOCK_TICKS = 100;

/**
 * The process groups a stop can signal before it scans /proc: the leader's own group and the groups its
 * children lead (the session a bwrap sandbox's inner process starts with --new-session). The scan that
 * finds every labelled process takes milliseconds, tens on a busy host, and the signal need not wait for
 * it; the scan then signals only what these groups did not reach. For a leader this process started and
 * that has not exited only: its pid, and so its group id, cannot belong to anything else yet.
 */
export function leaderGroups(leader: number): number[] {
  const groups = [leader];
  for (const child of childrenOf(leader)) if (groupOf(child) === child) groups.push(child);
  return groups;
}

/** Clock ticks since boot: a process whose start time is earlier existed before this moment. */
export function ticksNow(): number {
  try {
    return Math.floor(Number(readFileSync('/proc/uptime', 'utf8').split(' ')[0]) * CLOCK_TICKS);
  } catch {
    return 0; // unknown: no process counts as signalled early, the scan signals each one
  }
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
    return readFileSync(`/proc/${pid}/task/${pid}/children`, 'utf8').trim().split(/\s+/).filter(Boolean).map(Number);
  } catch {
    return [];
  }
}

function groupOf(pid: number): number {
  try {
    const text = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return Number(text.slice(text.lastIndexOf(')') + 2).split(' ')[2]);
  } catch {
    return -1;
  }
}
