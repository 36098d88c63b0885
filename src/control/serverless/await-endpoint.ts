import { GantryError } from '../../domain/errors.js';
import { isEndpointStatus, type EndpointStatus } from '../../domain/serverless/lifecycle.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { loadOwnEndpoint } from './endpoints.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';

/** Longest wait one call may ask for; a dialect with a longer promise calls again. */
export const MAX_AWAIT_MS = 10 * 60_000;

export interface AwaitedEndpoint {
  /** The endpoint when its status was one of those wanted, or the last state seen when the time ran out. */
  readonly endpoint: EndpointRecord;
  /**
   * True when the time ran out first. Not an error: each dialect says what that means (Elasticsearch's
   * `wait_for` answers 408 with the state so far; AI Core has no waits).
   */
  readonly timedOut: boolean;
}

/**
 * Wait until an endpoint's status is one of `wanted`, at most `timeoutMs`. Passes and intent writes
 * of this replica wake the wait at once (EndpointSignal); passes other replicas run are seen by
 * reading the store again every endpointWaitPollMs. The caller's right to see the endpoint is checked
 * once, at the start. An endpoint deleted meanwhile (unless `deleted` is wanted) answers
 * ENDPOINT_NOT_FOUND: it will never reach the status. `or`: the wait also ends as soon as it holds
 * (the caller's intent was superseded, and the status it waits for may never come).
 */
export async function awaitEndpointStatus(
  ctx: ControlContext,
  p: Principal,
  id: number,
  wanted: readonly EndpointStatus[],
  timeoutMs: number,
  or: (ep: EndpointRecord) => boolean = () => false,
): Promise<AwaitedEndpoint> {
  authorize(p, 'serverless.read', { kind: 'endpoint', id });
  if (wanted.length === 0 || !wanted.every((s) => typeof s === 'string' && isEndpointStatus(s))) {
    throw new GantryError('INVALID_ARGUMENT', `Wait for one or more of the endpoint statuses; got ${JSON.stringify(wanted)}.`, { field: 'wanted' });
  }
  if (!Number.isFinite(timeoutMs) || timeoutMs < 0 || timeoutMs > MAX_AWAIT_MS) {
    throw new GantryError('INVALID_ARGUMENT', `'timeout' must be between 0 and ${MAX_AWAIT_MS / 1000} seconds.`, { field: 'timeout' });
  }
  const signal = ctx.endpointSignal;
  const until = ctx.clock.now() + timeoutMs;
  // The version is taken before each read, so a pass that lands between the read and the wait still wakes it.
  let seen = signal.version(id);
  let ep = await loadOwnEndpoint(ctx, p, id);
  for (;;) {
    if (wanted.includes(ep.status) || or(ep)) return { endpoint: ep, timedOut: false };
    if (ep.status === 'deleted') throw new GantryError('ENDPOINT_NOT_FOUND', `No endpoint with id ${id}.`, { endpointId: id });
    const left = until - ctx.clock.now();
    if (left <= 0) return { endpoint: ep, timedOut: true };
    await signal.wait(id, seen, Math.min(left, ctx.settings.endpointWaitPollMs));
    seen = signal.version(id);
    const next = await ctx.store.getEndpoint(id);
    if (next === undefined) throw new GantryError('ENDPOINT_NOT_FOUND', `No endpoint with id ${id}.`, { endpointId: id });
    ep = next;
  }
}
