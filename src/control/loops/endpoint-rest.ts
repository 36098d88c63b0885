import type { EndpointRecord } from '../../domain/serverless/records.js';
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
 * A running endpoint that is `idle` (no worker, none to recruit, no request held at any replica), whose
 * status this pass keeps, rests the same way (decision 026) until idleEndpointRecheckMs, `bound` (null: it
 * may not rest) or a wake: an intent, or a request held at any replica (the loop's tick there wakes what
 * its gateway holds requests for: ServerlessLoop.runOnce). With no worker, nothing the autoscaler reads
 * moves with time alone: an inactivity or a scale-down delay needs a worker to stop, a recruit backoff
 * a worker to recruit, a load window a request (which wakes it).
 */
export function restIdle(ep: EndpointRecord, pass: Pass, ctx: RestContext, bound: number | null, idle: boolean): Pass {
  if (bound === null || !idle || ep.target !== 'running' || (pass.status ?? ep.status) !== ep.status) return pass;
  return { ...pass, restUntil: Math.min(ctx.clock.now() + ctx.settings.idleEndpointRecheckMs, bound) };
}
