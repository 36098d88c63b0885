import { assertNever } from '../errors.js';
import type { InstanceStatus, InstanceTarget } from '../instance/status.js';
import type { EndpointStopPhase } from './lifecycle.js';

/**
 * How long `closing` lasts at most for a drain. Each gateway publishes what it holds as soon as it
 * reads the stop (src/gateway/shared-pending.ts); before every live replica did, an empty count proves
 * nothing. Closing ends when they all did (`HeldRequests.settled`), or after this time (a replica
 * that died or did not hear of the stop; gateways also publish every 500 ms while they hold requests).
 */
export const STOP_SETTLE_MS = 1_000;

/** Requests the stop must account for, as one pass sees them. */
export interface HeldRequests {
  /** Queued and in flight at this replica's gateway (exact). */
  readonly queued: number;
  readonly inFlight: number;
  /** Held by other replicas' gateways, as they published it in the store (fresh reports only). */
  readonly elsewhere: number;
  /** What workers report working on: it covers /route/ callers, who talk to workers directly. */
  readonly atWorkers: number;
  /**
   * Every live gateway has published what it holds since it read the stop: the counts above are
   * complete, so `closing` ends now rather than at STOP_SETTLE_MS (then only the bound).
   */
  readonly settled?: boolean;
}

export interface StopWorker {
  readonly id: number;
  readonly target: InstanceTarget;
  readonly status: InstanceStatus;
  readonly statusMsg: string | null;
  /**
   * The reconciler holds it (its lease) with an intent not carried out yet: what it shows may be about to change
   * (a start it took before the stop was asked). Held after its last intent was carried out (its write comes
   * before the lease is released), it is not.
   */
  readonly busy: boolean;
}

/** Everything one step of a stop depends on. Both deadlines were written when their phase was entered. */
export interface StopSituation {
  readonly phase: EndpointStopPhase;
  /** finish_pending_work: wait for held requests before workers stop. */
  readonly drain: boolean;
  readonly requestedAt: number;
  /** Written with the stop (its timeout, or stopDrainTimeoutMs): past it, held requests are failed. */
  readonly drainDeadline: number;
  /** Written when stopping_workers was entered; null before. */
  readonly workersDeadline: number | null;
  /** How long workers get once asked to stop (the loop gives their own step bound plus a margin): sets workersDeadline on entering that phase. */
  readonly workersTimeoutMs: number;
  readonly held: HeldRequests;
  readonly workers: readonly StopWorker[];
  readonly now: number;
}

export interface StopStep {
  /** The phase to record, or the status the stop ends in. */
  readonly next: EndpointStopPhase | 'stopped' | 'failed';
  /** The drain ran out of time in this step: fail what this replica holds and count it. */
  readonly failHeld: boolean;
  /** Workers to ask to stop now (their target is still running). */
  readonly stopWorkers: readonly number[];
  /** The workers' deadline: set on entering stopping_workers, then kept as it is. */
  readonly workersDeadline: number | null;
  /** Workers not at rest yet. */
  readonly moving: readonly number[];
  /** Why the stop failed (next = failed). */
  readonly reason: string | null;
}

type DrainOutcome = 'closing' | 'draining' | 'drained' | 'timed_out';

function drainOutcome(s: StopSituation): DrainOutcome {
  if (!s.drain) return 'drained';
  const h = s.held;
  const busy = h.queued + h.inFlight + h.elsewhere + h.atWorkers > 0;
  const settling = s.phase === 'closing' && h.settled !== true && s.now < s.requestedAt + STOP_SETTLE_MS;
  if (!busy && !settling) return 'drained';
  if (s.now < s.drainDeadline) return settling ? 'closing' : 'draining';
  // Past the deadline only what is really held fails; an empty drain still settling is simply over.
  return busy ? 'timed_out' : 'drained';
}

const AT_REST: ReadonlySet<InstanceStatus> = new Set<InstanceStatus>(['stopped', 'exited']);

/**
 * Whether a worker is done moving: no longer meant to run, and failed (the stop gives up on it, below) or at rest
 * and not in the reconciler's hands. A stopped worker asked to start just before the endpoint's stop is not: the
 * reconciler may be starting it, and the endpoint read stopped while that worker ran (and was billed).
 */
const atRest = (w: StopWorker): boolean => w.target !== 'running' && (w.status === 'failed' || (AT_REST.has(w.status) && !w.busy));

function workersStep(s: StopSituation, deadline: number, failHeld: boolean): StopStep {
  const stopWorkers = s.workers.filter((w) => w.target === 'running').map((w) => w.id);
  const moving = s.workers.filter((w) => !atRest(w)).map((w) => w.id);
  const base = { failHeld, stopWorkers, workersDeadline: deadline, moving };
  if (moving.length > 0) {
    if (s.now <= deadline) return { ...base, next: 'stopping_workers', reason: null };
    const within = Math.round((deadline - s.requestedAt) / 1000);
    return { ...base, next: 'failed', reason: `workers ${moving.join(', ')} did not stop within ${within}s` };
  }
  const broken = s.workers.filter((w) => w.status === 'failed');
  if (broken.length > 0) {
    return { ...base, next: 'failed', reason: broken.map((w) => `worker ${w.id}: ${w.statusMsg ?? 'stop failed'}`).join('; ') };
  }
  return { ...base, next: 'stopped', reason: null };
}

/**
 * The next step of a stop: wait in closing or draining, fail what is held at the drain deadline,
 * ask workers to stop (entering stopping_workers sets its deadline: now + workersTimeoutMs), and end
 * in stopped, or failed when a worker failed or did not stop by its deadline. Never stopping forever.
 */
export function decideStop(s: StopSituation): StopStep {
  if (s.phase === 'stopping_workers') return workersStep(s, s.workersDeadline ?? s.now + s.workersTimeoutMs, false);
  const drain = drainOutcome(s);
  if (drain === 'closing' || drain === 'draining') {
    return { next: drain, failHeld: false, stopWorkers: [], workersDeadline: null, moving: [], reason: null };
  }
  return workersStep(s, s.now + s.workersTimeoutMs, drain === 'timed_out');
}

/**
 * The status_msg a step leaves (what the Vast API shows), from the step and the stop's counts.
 * `failed` counts every request the stop failed so far, this step's included.
 */
export function stopStatusMsg(step: StopStep, held: HeldRequests, c: { readonly drainTimedOut: boolean; readonly failed: number }): string | null {
  const timedOut = c.drainTimedOut ? `drain timed out: ${c.failed} request(s) failed` : null;
  switch (step.next) {
    case 'closing':
    case 'draining': {
      const elsewhere = held.elsewhere > 0 ? `, ${held.elsewhere} at other replicas` : '';
      return `draining: ${held.queued} queued, ${Math.max(held.inFlight, held.atWorkers)} in flight${elsewhere}`;
    }
    case 'stopping_workers':
      return timedOut ?? `stopping ${step.moving.length} worker(s)`;
    case 'stopped':
      return timedOut;
    case 'failed':
      return step.reason;
    default:
      return assertNever(step.next, 'stop step');
  }
}
