import type { InstanceStatus, InstanceTarget } from '../instance/status.js';

/**
 * When an endpoint is dead (AI Core's DEAD, the engine's `failed` with target `running`): its
 * workers keep failing and none becomes ready. A worker that fails (its instance failed to start or
 * its main process exited while it should run) counts once; a ready worker of the current
 * workergroup clears the count. At `limit` failures without a ready worker the endpoint is dead:
 * the serverless loop destroys those workers, recruits no more and says why (exit codes and the last
 * lines of output), until the user starts it again or deletes it (or, outside AI Core's table, stops it).
 *
 * The count lives in the endpoint's scale memory (ScaleMemory.failures), so it survives passes and
 * replicas; a start writes empty memory, so starting a dead endpoint again begins a fresh count.
 */
export interface WorkerFailures {
  readonly count: number;
  /** Workers already counted: a failed worker is seen by every pass until it is gone. */
  readonly counted: readonly number[];
  /** The latest failures, newest last (at most LAST_KEPT), for the status message. */
  readonly last: readonly FailureNote[];
}

export interface FailureNote {
  readonly workerId: number;
  readonly exitCode: number | null;
  /** The instance's own status message ("main process exited with code 3"). */
  readonly statusMsg: string | null;
  /** The last lines of the worker's output, when they could be read. */
  readonly output: string | null;
}

export const NO_FAILURES: WorkerFailures = { count: 0, counted: [], last: [] };

/** Failures kept for the status message; counted ids kept to recognise a worker seen before. */
const LAST_KEPT = 3;
const COUNTED_KEPT = 50;
/** Output quoted in a status message: the tail of what the worker printed, bounded. */
export const OUTPUT_LINES = 5;
const OUTPUT_CHARS = 400;

export interface WorkerFacts {
  readonly id: number;
  /** Of the workergroup the endpoint now recruits for (a rollout's old workers are not). */
  readonly current: boolean;
  readonly ready: boolean;
  readonly target: InstanceTarget;
  readonly status: InstanceStatus;
  readonly exitCode: number | null;
  readonly statusMsg: string | null;
  readonly output?: string | null;
  /** Running, yet never to become ready (its command exited, or it ran past the readiness bound). */
  readonly notReady?: boolean;
  /**
   * Its host went offline (workerOfflineGraceMs): whatever becomes of it when the host is back (a rebooted
   * machine brings back none of its workloads) says nothing of the template, so it is remembered, never counted.
   */
  readonly offline?: boolean;
}

/** A worker that should run and does not: its start failed, its main process exited, or it cannot become ready. */
export function isWorkerFailure(w: Pick<WorkerFacts, 'target' | 'status' | 'notReady'>): boolean {
  return w.target === 'running' && (w.status === 'failed' || w.status === 'exited' || w.notReady === true);
}

/** A failure this count has not seen yet (the only workers whose output is worth reading). */
export function isNewFailure(f: WorkerFailures, w: Pick<WorkerFacts, 'id' | 'target' | 'status' | 'notReady'>): boolean {
  return isWorkerFailure(w) && !f.counted.includes(w.id);
}

export interface DeadDecision {
  readonly failures: WorkerFailures;
  /** Workers counted by this decision. */
  readonly newlyFailed: readonly number[];
  readonly dead: boolean;
  /** Why it is dead; null while it is not. */
  readonly statusMsg: string | null;
}

function tailOf(output: string | null | undefined): string | null {
  if (output === null || output === undefined) return null;
  const lines = output.split('\n').filter((l) => l.trim() !== '');
  if (lines.length === 0) return null;
  const text = lines.slice(-OUTPUT_LINES).join(' | ');
  return text.length > OUTPUT_CHARS ? `…${text.slice(-OUTPUT_CHARS)}` : text;
}

function describe(n: FailureNote): string {
  let s = `worker ${n.workerId}: ${n.statusMsg ?? 'failed'}`;
  if (n.exitCode !== null && !s.includes(`code ${n.exitCode}`)) s += ` (exit code ${n.exitCode})`;
  if (n.output !== null) s += `; last output: ${n.output}`;
  return s;
}

/**
 * What the latest failures say, most telling first (exit codes, then the latest failure with its
 * output): AI Core cuts status messages at 256 characters, so what helps most must come early.
 */
export function failureSummary(f: WorkerFailures): string {
  const codes = f.last.map((n) => (n.exitCode === null ? 'none' : String(n.exitCode)));
  const latest = f.last.at(-1);
  return [codes.length > 0 ? `exit codes: ${codes.join(', ')}` : null, latest !== undefined ? `latest: ${describe(latest)}` : null]
    .filter((x) => x !== null)
    .join('; ');
}

/** The status message of a dead endpoint: how many failures, their exit codes, the latest one's output; what it means last. */
export function deadStatusMsg(f: WorkerFailures, limit: number): string {
  const summary = failureSummary(f);
  return (
    `workers keep failing: ${f.count} failure(s) without a ready worker (limit ${limit})` +
    (summary !== '' ? `; ${summary}` : '') +
    '; no more workers are recruited until the endpoint is started again'
  );
}

/** `limit` 0 never marks an endpoint dead (failed workers are still replaced, as before). */
export function decideDead(i: { readonly failures: WorkerFailures; readonly workers: readonly WorkerFacts[]; readonly limit: number }): DeadDecision {
  const fresh = i.workers.filter((w) => isNewFailure(i.failures, w));
  const ids = fresh.map((w) => w.id);
  const excused = i.workers.filter((w) => w.offline === true && !i.failures.counted.includes(w.id)).map((w) => w.id);
  const counted = [...i.failures.counted, ...ids, ...excused].slice(-COUNTED_KEPT);
  if (i.workers.some((w) => w.current && w.ready)) {
    // A ready worker proves the template can serve; failures seen now are remembered, not counted.
    return { failures: { ...NO_FAILURES, counted }, newlyFailed: ids, dead: false, statusMsg: null };
  }
  const notes: FailureNote[] = fresh
    .filter((w) => w.current)
    .map((w) => ({ workerId: w.id, exitCode: w.exitCode, statusMsg: w.statusMsg, output: tailOf(w.output) }));
  const failures: WorkerFailures = {
    count: i.failures.count + fresh.filter((w) => w.current).length,
    counted,
    last: [...i.failures.last, ...notes].slice(-LAST_KEPT),
  };
  // Only a failure seen now makes it dead: a count left over from before a start does not by itself.
  const dead = i.limit > 0 && failures.count >= i.limit && notes.length > 0;
  return { failures, newlyFailed: ids, dead, statusMsg: dead ? deadStatusMsg(failures, i.limit) : null };
}
