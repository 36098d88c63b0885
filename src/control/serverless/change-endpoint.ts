import { GantryError } from '../../domain/errors.js';
import { decideEndpoint, initialStopPhase, waitsForHeld, type EndpointAction } from '../../domain/serverless/lifecycle.js';
import { changeEach, type BulkItemResult } from '../bulk.js';
import { compareAndSet, GENERATION_MOVED } from '../cas.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { loadOwnEndpoint, refuseReferenced, updateEndpoint, type EndpointUpdate } from './endpoints.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';

const MAX_STOP_TIMEOUT_MS = 24 * 3600_000;

export interface StopRequest {
  readonly finishPendingWork: boolean;
  readonly force: boolean;
  /** Bound on the drain; null: the stopDrainTimeoutMs setting. */
  readonly timeoutMs: number | null;
  /**
   * Elasticsearch's stop: the queued requests it fails are rejected (REQUEST_REJECTED_BY_STOP,
   * counted as rejected): at once unless finishPendingWork, and then the requests in flight at workers
   * finish, bounded by the timeout, before the workers stop; with finishPendingWork, those still
   * queued when the drain runs out of time. Absent or false: Vast's and AI Core's rules (queued
   * requests fail with ENDPOINT_STOPPED, and without a drain workers are asked to stop at once).
   */
  readonly rejectQueued?: boolean;
}

export interface EndpointChangeOptions {
  readonly stop?: StopRequest;
  /** Vast's delete: stop-then-delete from a live endpoint. */
  readonly stopFirst?: boolean;
  /** Vast's stop: an endpoint not yet scheduled (unknown) is stopped too, instead of refused. */
  readonly stopUnscheduled?: boolean;
  /** AI Core's table: a request that changes nothing is refused (decideEndpoint's `strict`). */
  readonly strict?: boolean;
}

export interface EndpointChangeResult {
  readonly endpoint: EndpointRecord;
  /** False for an idempotent repeat. */
  readonly changed: boolean;
  /**
   * The generation of the intent this call stands on: the one it wrote, or (a repeat) the one it found. `endpoint`
   * is read after the write, so another intent may already show there.
   */
  readonly generation: number;
}

/** The stop options, checked (a bad timeout is the caller's fault, before anything is read). */
function stopRequest(o: EndpointChangeOptions): StopRequest {
  const stop = o.stop ?? { finishPendingWork: false, force: false, timeoutMs: null };
  if (stop.timeoutMs !== null && (!Number.isFinite(stop.timeoutMs) || stop.timeoutMs < 0 || stop.timeoutMs > MAX_STOP_TIMEOUT_MS)) {
    throw new GantryError('INVALID_ARGUMENT', `'timeout' must be between 0 and ${MAX_STOP_TIMEOUT_MS / 1000} seconds.`, { field: 'timeout' });
  }
  // Whole milliseconds: a deadline is a BIGINT column (Vast's timeout is in seconds, 1.005 of them is 1004.999… ms).
  return stop.timeoutMs === null ? stop : { ...stop, timeoutMs: Math.round(stop.timeoutMs) };
}

/**
 * Stop, start or delete an endpoint (and so the deployment that owns it). The intent is written with
 * a compare-and-set on the generation, routing changes on this replica before the call returns, and
 * the serverless loop does the rest: drain, stop or start workers, confirm. Concurrent calls
 * serialise on the generation, so any mix of them ends in one consistent state; the write also
 * expects the status it was decided on, as a pass may move that (unknown to pending) without the
 * generation, and a retry decides again on what the pass wrote.
 */
export async function changeEndpoint(
  ctx: ControlContext,
  p: Principal,
  id: number,
  action: EndpointAction,
  o: EndpointChangeOptions = {},
): Promise<EndpointChangeResult> {
  authorize(p, 'serverless.write', { kind: 'endpoint', id });
  return changeOwnedEndpoint(ctx, p, id, action, o);
}

/** `changeEndpoint` once the caller is authorized for what it named (the endpoint, or its deployment). */
export async function changeOwnedEndpoint(
  ctx: ControlContext,
  p: Principal,
  id: number,
  action: EndpointAction,
  o: EndpointChangeOptions = {},
): Promise<EndpointChangeResult> {
  const stop = stopRequest(o);
  const attempt = async (): Promise<EndpointChangeResult | typeof GENERATION_MOVED> => {
    const ep = await loadOwnEndpoint(ctx, p, id);
    const change = decideEndpoint(ep, action, { stopFirst: o.stopFirst === true, stopUnscheduled: o.stopUnscheduled === true, strict: o.strict === true });
    if (change === null) {
      if (action === 'stop' && stop.timeoutMs !== null && ep.target === 'stopped' && waitsForHeld(ep)) await shortenDrain(ctx, ep, stop.timeoutMs);
      return { endpoint: ep, changed: false, generation: ep.generation };
    }
    if (action !== 'start' && !stop.force) await refuseReferenced(ctx, ep);
    const now = ctx.clock.now();
    // drain: gateways hand queued requests on; wait: the stop waits for held requests before workers stop.
    const drain = action === 'stop' && stop.finishPendingWork;
    const rejects = action === 'stop' && stop.rejectQueued === true;
    const rejectQueued = rejects && !drain;
    const wait = drain || rejectQueued;
    const written = await ctx.store.writeEndpointIntent(id, ep.generation, {
      from: ep.status,
      target: change.target,
      status: change.status,
      statusMsg: null,
      // The drain begins here, when routing closes: its deadline counts from the call.
      stop:
        action === 'start' ? null : { drain: wait, rejectQueued, rejects, deadline: now + (wait ? (stop.timeoutMs ?? ctx.settings.stopDrainTimeoutMs) : 0) },
      stopPhase: initialStopPhase(change),
      now,
    });
    if (!written) return GENERATION_MOVED;
    // A start counts as a client heartbeat for a code deployment's ttl: else one stopped for silence would be stopped again at once.
    if (action === 'start') await restartCodeTtl(ctx, id, now);
    // Routing changes before the answer: a stopped endpoint takes no new request from here on.
    if (action === 'start') ctx.traffic.open(id);
    else ctx.traffic.close(id, { drain, rejectQueued: rejects, waits: wait });
    ctx.endpointSignal.notify(id);
    ctx.endpointSignal.intent(id);
    ctx.log.info({ endpointId: id, action, drain, from: `${ep.target}/${ep.status}`, generation: ep.generation + 1 }, 'endpoint intent');
    return { endpoint: (await ctx.store.getEndpoint(id)) as EndpointRecord, changed: true, generation: ep.generation + 1 };
  };
  return compareAndSet(
    attempt,
    () => new GantryError('ILLEGAL_TRANSITION', `Endpoint ${id} is being changed by other requests right now; try again.`, { endpointId: id }),
  );
}

/**
 * The harder stop the lifecycle allows while stopping: a repeated stop that names a timeout, during a stop that
 * still waits for held requests (a drain, or Elasticsearch's wait for what is in flight), bounds that wait anew
 * from now; it only ever shortens it (0: the next pass fails what is held and stops the workers). `force` keeps
 * the one meaning both dialects give it (stop though referenced), which callers send for that reason, not to cut
 * a drain (decision 027). The stop stays the one under way (same generation, counts kept).
 */
async function shortenDrain(ctx: ControlContext, ep: EndpointRecord, timeoutMs: number): Promise<void> {
  const now = ctx.clock.now();
  if (!(await ctx.store.shortenStopDrain(ep.id, ep.generation, now + timeoutMs, now))) return;
  ctx.endpointSignal.notify(ep.id);
  ctx.endpointSignal.intent(ep.id);
  ctx.log.info({ endpointId: ep.id, generation: ep.generation, timeoutMs }, 'drain shortened by a repeated stop');
}

/**
 * An update that also stops or starts (Vast's `endpoint_state`): the update checks the stop or start first, so a
 * request the lifecycle refuses writes nothing; then the change, decided again on what the update left. A start
 * brings back an endpoint that is not running or whose workers kept failing.
 */
export async function updateEndpointAndState(ctx: ControlContext, p: Principal, id: number, u: EndpointUpdate): Promise<EndpointRecord> {
  const ep = await updateEndpoint(ctx, p, id, u);
  if (u.next === 'stop') return (await changeEndpoint(ctx, p, id, 'stop', { stopUnscheduled: true })).endpoint;
  if (u.next === 'start' && (ep.target !== 'running' || ep.status === 'failed')) return (await changeEndpoint(ctx, p, id, 'start')).endpoint;
  return ep;
}

/**
 * The same change for many endpoints (AI Core's bulk PATCH): at most 100 ids, each once; one result
 * per item, and one item's refusal does not undo the others.
 */
export async function changeEndpoints(
  ctx: ControlContext,
  p: Principal,
  ids: readonly number[],
  action: EndpointAction,
  o: EndpointChangeOptions = {},
): Promise<BulkItemResult[]> {
  stopRequest(o);
  return changeEach(ids, 'endpoint', (id) => changeEndpoint(ctx, p, id, action, o));
}

/** A code deployment with a ttl, started: its ttl counts from now (recorded as a heartbeat). */
async function restartCodeTtl(ctx: ControlContext, endpointId: number, now: number): Promise<void> {
  const d = await ctx.store.findDeploymentByEndpoint(endpointId);
  const code = d === undefined ? undefined : await ctx.store.getCodeDeployment(d.id);
  if (code !== undefined && code.ttlS !== null) await ctx.store.recordCodeHeartbeat(code.deploymentId, now);
}
