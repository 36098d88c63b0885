import { waitsForHeld } from '../../domain/serverless/lifecycle.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';
import { decideStop, stopStatusMsg, type HeldRequests } from '../../domain/serverless/stop.js';
import type { ControlContext } from '../context.js';
import { actOnWorker, type WorkerInfo } from '../serverless/workers.js';
import { stopWakeAt, type Pass } from './endpoint-pass.js';

/**
 * Requests a stop's pass failed. Failing them cannot be undone, so when the pass's outcome is not
 * recorded (its lease ran out on a slow machine) the counts are carried to the next pass; a stop once
 * read "drain timed out: 0 request(s) failed" after failing three.
 */
export interface StopFailures {
  readonly failed: number;
  /** Of `failed`, those rejected from a queue (an Elasticsearch stop). */
  readonly rejected: number;
  /** Failed because the drain ran out of time (else because the stop gave up). */
  readonly drainTimedOut: boolean;
}

export interface StopPassResult {
  readonly pass: Pass;
  /** When the next pass is due (a deadline of the stop's); null: none. */
  readonly wakeAt: number | null;
  /** What this pass failed, with what it carried (to carry again if its outcome is not recorded); undefined: nothing. */
  readonly failures: StopFailures | undefined;
}

/** One step of a stop: the typed phase and its deadlines come from the row, the decision from decideStop. */
export async function stopPass(
  ctx: ControlContext,
  ep: EndpointRecord,
  workers: readonly WorkerInfo[],
  carried: StopFailures | undefined,
): Promise<StopPassResult> {
  const now = ctx.clock.now();
  const phase = ep.stopPhase ?? 'closing';
  const pending = ctx.traffic.pending(ep.id);
  const held: HeldRequests = {
    queued: pending.queued,
    inFlight: pending.inFlight,
    // Requests other replicas accepted count too: a drain waits for every gateway, not only this one.
    elsewhere: waitsForHeld({ ...ep, stopPhase: phase }) ? await ctx.traffic.pendingElsewhere(ep.id) : 0,
    atWorkers: workers.reduce((n, w) => n + (w.report?.numRequestsWorking ?? 0), 0),
    settled: phase === 'closing' && ep.stopDrain && (await ctx.traffic.stopSettled(ep.id, ep.stopRequestedAt ?? now)),
  };
  const step = decideStop({
    phase,
    drain: ep.stopDrain,
    requestedAt: ep.stopRequestedAt ?? now,
    drainDeadline: ep.stopDeadline ?? now,
    workersDeadline: ep.stopWorkersDeadline,
    // Each worker's own stop is bounded by stepTimeoutMs from when the reconciler takes it (at once
    // when woken, at the latest one observeIntervalMs later), and a stop that held its bound is looked at
    // once more (agentCallTimeoutMs at most) before it is recorded failed; waiting just as long would race
    // that and fail the endpoint before the worker records its own reason.
    workersTimeoutMs: ctx.settings.stepTimeoutMs + ctx.settings.agentCallTimeoutMs + ctx.settings.observeIntervalMs,
    held,
    workers: workers.map(({ instance: i }) => ({
      id: i.id,
      target: i.target,
      status: i.status,
      statusMsg: i.statusMsg,
      busy: i.leaseExpiresAt !== null && i.leaseExpiresAt > now && i.observedGeneration < i.generation,
    })),
    now,
  });
  let failures = carried;
  const fail = (why: string, drainTimedOut: boolean): void => {
    // An Elasticsearch stop rejects what is still queued, as its plain stop does (429, rejected_execution_count).
    const f = ctx.traffic.failPending(ep.id, why, ep.stopRejects);
    failures = {
      failed: (failures?.failed ?? 0) + f.failed,
      rejected: (failures?.rejected ?? 0) + f.rejected,
      drainTimedOut: drainTimedOut || failures?.drainTimedOut === true,
    };
    if (drainTimedOut) ctx.log.warn({ endpointId: ep.id, ...f }, 'drain timed out');
  };
  if (step.failHeld) fail('the drain of this endpoint ran out of time', true);
  // A stop that gives up (a worker that could not be stopped) fails what this replica still holds, rather
  // than leave callers waiting out the worker request timeout on an endpoint that routes nothing now.
  else if (step.next === 'failed') fail(`its stop gave up (${step.reason ?? 'workers did not stop'}); the request may have been partly processed`, false);
  // From here the stop cuts what its workers still hold: a failure at a worker is the stop's (Traffic.stoppingPlainly), at
  // this gateway before any worker is asked, at the others once they hear of the phase (the serverless loop tells them).
  if (step.stopWorkers.length > 0) ctx.traffic.close(ep.id, { drain: false, rejectQueued: ep.stopRejects });
  for (const id of step.stopWorkers) await actOnWorker(ctx, ep, id, 'stop');
  if (step.workersDeadline !== null) ctx.traffic.invalidate(ep.id);
  const next = step.next;
  const ended = next === 'stopped' || next === 'failed';
  const drainTimedOut = ep.stopDrainTimedOut || failures?.drainTimedOut === true;
  const failed = failures?.failed ?? 0;
  return {
    pass: {
      status: ended ? next : 'stopping',
      statusMsg: stopStatusMsg(step, held, { drainTimedOut, failed: ep.stopFailed + failed }),
      stop: { phase: ended ? null : next, workersDeadline: step.workersDeadline, drainTimedOut, failed, rejected: failures?.rejected ?? 0 },
      memory: ep.memory,
    },
    wakeAt: stopWakeAt(ep, next, step.workersDeadline, now, ctx.settings.observeIntervalMs),
    failures,
  };
}
