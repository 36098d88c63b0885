import type { ScaleDecision } from '../../domain/serverless/autoscale.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';
import type { WorkerInfo } from '../serverless/workers.js';
import type { ControlContext } from '../context.js';
import type { Pass } from './endpoint-pass.js';

type RestContext = Pick<ControlContext, 'clock' | 'settings'>;

/**
 * A stopped endpoint (or one whose stop failed) with no worker to retire has nothing to do until an
 * intent wakes it (EndpointSignal.intent, writeEndpointIntent) or its deployment's ttl runs out: it
 * rests, and claims pass it by meanwhile, at every replica. stoppedEndpointRecheckMs bounds the rest
 * for what changes without an intent; `bound`, the deadlines a pass must act on when they fall. Decision 025.
 */
export function restStopped(ep: EndpointRecord, pass: Pass, ctx: RestContext, bound: number): Pass {
  if (ep.target !== 'stopped' || (ep.status !== 'stopped' && ep.status !== 'failed') || (pass.status ?? ep.status) !== ep.status) return pass;
  return { ...pass, restUntil: Math.min(ctx.clock.now() + ctx.settings.stoppedEndpointRecheckMs, bound) };
}

/**
 * Whether the endpoint's workers are all inactive (none at all, or cold ones kept in reserve, stopped and
 * confirmed so) and the autoscaler's decision holds them as they are: none to start, stop, destroy or
 * create (`acted`: what the pass did), no lower target waiting out its delay, none wanted active. Then
 * nothing it reads moves with time alone; what changes a cold worker (its owner's stop, start or destroy,
 * a new status from its host) wakes the endpoint (ServerlessWakeups).
 */
export function coldAndSettled(workers: readonly WorkerInfo[], d: ScaleDecision, acted: boolean): boolean {
  if (acted || d.create > 0 || d.activeTarget > 0 || d.totalTarget !== workers.length) return false;
  if (d.memory.activeLowSince !== null || d.memory.totalLowSince !== null) return false;
  return workers.every((w) => w.phase === 'inactive');
}

/**
 * A running endpoint that is `idle` (no worker but cold ones, coldAndSettled; none to recruit, no request
 * held at any replica), whose status this pass keeps, rests the same way (decision 026) until
 * idleEndpointRecheckMs, `bound` (null: it may not rest) or a wake: an intent, a change of one of its
 * cold workers, or a request held at any replica (the loop's tick there wakes what its gateway holds
 * requests for: ServerlessLoop.runOnce). With no active worker, nothing the autoscaler reads moves with
 * time alone: an inactivity or a scale-down delay needs an active worker to stop, a recruit backoff a
 * worker to recruit, a load window a request (which wakes it).
 */
export function restIdle(ep: EndpointRecord, pass: Pass, ctx: RestContext, bound: number | null, idle: boolean): Pass {
  if (bound === null || !idle || ep.target !== 'running' || (pass.status ?? ep.status) !== ep.status) return pass;
  return { ...pass, restUntil: Math.min(ctx.clock.now() + ctx.settings.idleEndpointRecheckMs, bound) };
}
