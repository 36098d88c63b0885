import { GantryError } from '../domain/errors.js';
import { anyActive } from '../domain/serverless/workers.js';
import type { FailedHeld, InferenceCounters, InferenceStats, PendingWork } from '../control/serverless/traffic-gate.js';
import { abortAll } from './abort.js';
import { Tally } from './inference-stats.js';
import { rejectedByStop, type EndpointTraffic } from './endpoint-traffic.js';

/** How long a /route/ call answered without a worker counts as demand, unless asked again. */
const UNMET_TTL_MS = 10_000;

/**
 * What this gateway holds of one endpoint (queued, in flight, /route/ demand), as the control loops
 * read it and as stops fail it; Traffic routes, this only counts and fails.
 *
 * As the inference counters count them: `refused`, dropped by a stop (rejected, and in the stop's
 * counts this gateway reports); `rejected`, rejected at a drain's deadline (its pass records them);
 * `timedOut`, failed at a drain's deadline or at shutdown.
 */
export function failQueued(t: EndpointTraffic, e: GantryError, as: 'refused' | 'rejected' | 'timedOut'): number {
  const n = t.queue.length;
  if (as === 'refused') {
    t.refused += n;
    t.rejected += n;
  }
  for (const w of t.queue.splice(0)) {
    clearTimeout(w.timer);
    w.unlisten();
    if (as === 'timedOut') t.tally.timedOut();
    else t.tally.rejected();
    w.reject(e);
  }
  return n;
}

export function pendingOf(t: EndpointTraffic | undefined, now: number): PendingWork {
  if (t === undefined) return { queued: 0, inFlight: 0, oldestQueuedMs: 0 };
  // A loop, not a spread into Math.min: a spread of some 125k values overflows the stack.
  let oldest = now;
  for (const [idx, at] of t.unmet) {
    if (now - at > UNMET_TTL_MS) t.unmet.delete(idx);
    else if (at < oldest) oldest = at;
  }
  for (const w of t.queue) if (w.since < oldest) oldest = w.since;
  return { queued: t.queue.length + t.unmet.size, inFlight: t.inFlight.size, oldestQueuedMs: now - oldest };
}

/**
 * The endpoints with no active worker (none serving or on its way: only cold, stopping, broken or
 * destroyed ones, or none) that requests wait for here (TrafficGate.waiting): such an endpoint may rest,
 * or have rested on a change it was not woken for. Their view is read again while requests wait
 * (Traffic's pump).
 */
export function waitingOf(eps: ReadonlyMap<number, EndpointTraffic>, now: number): number[] {
  return [...eps].filter(([, t]) => !anyActive(t.view?.phases ?? {}) && pendingOf(t, now).queued > 0).map(([id]) => id);
}

/** Fail what is queued and in flight (a drain out of time, a stop that gave up). */
export function failHeld(t: EndpointTraffic | undefined, endpointId: number, why: string, rejectsQueued: boolean): FailedHeld {
  if (t === undefined) return { failed: 0, rejected: 0 };
  const n = rejectsQueued
    ? failQueued(t, rejectedByStop(endpointId), 'rejected')
    : failQueued(t, new GantryError('ENDPOINT_STOPPED', `The endpoint stopped: ${why}; this request was not processed.`, { endpointId }), 'timedOut');
  // Counted before: an abort may end its request at once (the wire path releases it synchronously).
  const inFlight = t.inFlight.size;
  abortAll([...t.inFlight.keys()], new GantryError('ENDPOINT_STOPPED', `The endpoint stopped: ${why}.`, { endpointId }));
  t.unmet.clear();
  return { failed: n + inFlight, rejected: rejectsQueued ? n : 0 };
}

export function statsOf(t: EndpointTraffic | undefined, now: () => number): InferenceStats {
  if (t === undefined) return { deployment: new Tally(now).counters(0), workers: new Map() };
  const workers = new Map<number, InferenceCounters>();
  for (const [id, tally] of t.workerTally) workers.set(id, tally.counters(t.busy.get(id)?.inFlight ?? 0));
  return { deployment: t.tally.counters(t.queue.length + t.inFlight.size), workers };
}
