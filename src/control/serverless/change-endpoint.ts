import { GantryError } from '../../domain/errors.js';
import { decideEndpoint, type EndpointAction } from '../../domain/serverless/lifecycle.js';
import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import { ownEndpoint, referencesTo } from './endpoints.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';

const MAX_CAS_ATTEMPTS = 20;
const MAX_STOP_TIMEOUT_MS = 24 * 3600_000;

export interface StopRequest {
  readonly finishPendingWork: boolean;
  readonly force: boolean;
  /** Bound on the drain; null: the stopDrainTimeoutMs setting. */
  readonly timeoutMs: number | null;
}

export interface EndpointChangeResult {
  readonly endpoint: EndpointRecord;
  /** False for an idempotent repeat. */
  readonly changed: boolean;
}

/**
 * Stop, start or delete an endpoint (and so the deployment that owns it). The intent is written with
 * a compare-and-set on the generation, routing changes on this replica before the call returns, and
 * the serverless loop does the rest: drain, stop or start workers, confirm. Concurrent calls
 * serialise on the generation, so any mix of them ends in one consistent state.
 */
export async function changeEndpoint(
  ctx: ControlContext,
  p: Principal,
  id: number,
  action: EndpointAction,
  o: { stop?: StopRequest; stopFirst?: boolean } = {},
): Promise<EndpointChangeResult> {
  const stop = o.stop ?? { finishPendingWork: false, force: false, timeoutMs: null };
  if (stop.timeoutMs !== null && (!Number.isFinite(stop.timeoutMs) || stop.timeoutMs < 0 || stop.timeoutMs > MAX_STOP_TIMEOUT_MS)) {
    throw new GantryError('INVALID_ARGUMENT', `'timeout' must be between 0 and ${MAX_STOP_TIMEOUT_MS / 1000} seconds.`, { field: 'timeout' });
  }
  for (let attempt = 0; attempt < MAX_CAS_ATTEMPTS; attempt++) {
    const ep = await ownEndpoint(ctx, p, id, 'serverless.write');
    const change = decideEndpoint(ep, action, { stopFirst: o.stopFirst === true });
    if (change === null) return { endpoint: ep, changed: false };
    if (action !== 'start' && !stop.force) {
      const refs = await referencesTo(ctx, ep);
      if (refs.length > 0) {
        const names = refs.map((r) => r.name).join(', ');
        throw new GantryError('ENDPOINT_REFERENCED', `Endpoint '${ep.name}' is the route target of ${names}; stop those first or pass force=true.`, {
          references: refs.map((r) => r.name),
        });
      }
    }
    const now = ctx.clock.now();
    const drain = action === 'stop' && stop.finishPendingWork;
    const written = await ctx.store.writeEndpointIntent(id, ep.generation, {
      target: change.target,
      status: change.status,
      statusMsg: null,
      stop: action === 'start' ? null : { drain, deadline: now + (drain ? (stop.timeoutMs ?? ctx.settings.stopDrainTimeoutMs) : 0) },
      now,
    });
    if (!written) continue;
    // Routing changes before the answer: a stopped endpoint takes no new request from here on.
    if (action === 'start') ctx.traffic.open(id);
    else ctx.traffic.close(id, { drain });
    ctx.log.info({ endpointId: id, action, drain, from: `${ep.target}/${ep.status}`, generation: ep.generation + 1 }, 'endpoint intent');
    return { endpoint: (await ctx.store.getEndpoint(id)) as EndpointRecord, changed: true };
  }
  throw new GantryError('ILLEGAL_TRANSITION', `Endpoint ${id} is being changed by other requests right now; try again.`, { endpointId: id });
}
