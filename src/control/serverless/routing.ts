import { GantryError } from '../../domain/errors.js';
import { acceptsTraffic, isDraining, waitsForHeld } from '../../domain/serverless/lifecycle.js';
import { NO_LIMITS, type EndpointLimits } from '../../domain/serverless/limits.js';
import type { WorkerPhase } from '../../domain/serverless/workers.js';
import type { ControlContext } from '../context.js';
import { authenticate } from '../accounts/authenticate.js';
import { authorize, type Principal } from '../principal.js';
import { ownDeployment, type DeploymentRef } from './deployments.js';
import { workersOf, type WorkerInfo, type WorkerReadContext } from './workers.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';
import { ROUTE_KEYS_AFTER_INSTANCE, routeSigner } from '../../domain/serverless/route-keys.js';

/** A worker requests may be sent to now. */
export interface RoutableWorker {
  readonly id: number;
  readonly url: string;
  /** Load units per second it can carry (its benchmark; 1 until it reports one). */
  readonly perf: number;
  /** Requests it reports working on (from every replica). */
  readonly working: number;
  /** When its last report counted was made (epoch ms; 0: none): a worker a request timed out at waits for a newer one. */
  readonly reportedAt: number;
  /** The endpoint whose key the worker checks hand-outs with, or null: the server's key (`routeSigner`). */
  readonly signedBy: number | null;
  /** The hand-out's signature for this worker: the gateway adds it when it reads the view (it holds the keys; see route-keys.ts). */
  readonly signature?: string;
}

/** What the gateway needs to know of an endpoint to route: whether it takes work, and where to send it. */
export interface RoutingView {
  readonly endpointId: number;
  readonly accepting: boolean;
  /** Stopping with finish_pending_work, workers not yet asked to stop: queued requests still go to workers, new ones are refused. */
  readonly draining: boolean;
  readonly maxQueueTimeS: number;
  readonly workers: readonly RoutableWorker[];
  /** How many workers are in each phase (what a client is told while no worker is ready). */
  readonly phases: Readonly<Partial<Record<WorkerPhase, number>>>;
  /** The endpoint no longer exists. */
  readonly deleted: boolean;
  /** Per-worker concurrency and the queue's bound. */
  readonly limits: EndpointLimits;
  /** The queued requests a stop fails are rejected with REQUEST_REJECTED_BY_STOP (Elasticsearch's), not failed with ENDPOINT_STOPPED. */
  readonly rejectQueued: boolean;
  /** The endpoint failed (its workers kept failing): refusals say so, not that it stopped. */
  readonly failed?: boolean;
  /**
   * A stop that waits for the requests in flight before it stops the workers (a drain, or Elasticsearch's
   * stop), not yet past that: a worker that fails meanwhile failed on its own, the stop did not cut it.
   */
  readonly stopWaits?: boolean;
  /** The endpoint has no workergroup: no worker can come to serve a request, so none is taken (NO_WORKERGROUP). */
  readonly noWorkergroup?: boolean;
}

const LAST_OLD = new WeakMap<object, number>();

/** The last instance made before endpoints had keys (it never changes: read once per store); none recorded reads as 0 (each endpoint's key). */
async function lastOldInstance(store: WorkerReadContext['store']): Promise<number> {
  let last = LAST_OLD.get(store);
  if (last === undefined) {
    last = Number((await store.getSetting(ROUTE_KEYS_AFTER_INSTANCE)) ?? 0) || 0;
    LAST_OLD.set(store, last);
  }
  return last;
}

/** Needs no control plane, only what reading workers needs, so a gateway can be made before the control plane it serves. */
export async function routingView(ctx: WorkerReadContext, endpointId: number): Promise<RoutingView> {
  const ep = await ctx.store.getEndpoint(endpointId);
  if (!ep)
    return { endpointId, accepting: false, draining: false, maxQueueTimeS: 0, workers: [], phases: {}, deleted: true, limits: NO_LIMITS, rejectQueued: false };
  const all = await workersOf(ctx, endpointId);
  const lastOld = await lastOldInstance(ctx.store);
  const groups = await ctx.store.listWorkergroups({ endpointId });
  const serving = servingGroup(groups, all);
  const workers = all
    // A worker of a deleted workergroup takes no new request: it drains, then goes (retire-workers.ts).
    .filter((w) => w.phase === 'ready' && w.url !== null && ofLiveGroup(groups, w) && (serving === null || w.instance.workergroupId === serving))
    .map((w) => ({
      id: w.instance.id,
      url: w.url as string,
      perf: w.report?.maxPerf ?? 1,
      working: w.report?.numRequestsWorking ?? 0,
      reportedAt: w.report?.reportedAt ?? 0,
      signedBy: routeSigner({ endpointId, id: w.instance.id }, w.report?.keyed === true, lastOld),
    }));
  const phases: Partial<Record<WorkerPhase, number>> = {};
  for (const w of all) phases[w.phase] = (phases[w.phase] ?? 0) + 1;
  const accepting = acceptsTraffic(ep);
  return {
    endpointId,
    accepting,
    draining: isDraining(ep),
    maxQueueTimeS: ep.params.maxQueueTime,
    workers,
    phases,
    deleted: ep.status === 'deleted',
    limits: ep.limits,
    // A stop's flags live until the next intent: a request still queued at a replica when the stop ended is the stop's too.
    rejectQueued: ep.stopRejects,
    ...(ep.status === 'failed' ? { failed: true } : {}),
    ...(waitsForHeld(ep) ? { stopWaits: true } : {}),
    ...(groups.length === 0 ? { noWorkergroup: true } : {}),
  };
}

/** Whether the worker belongs to one of the endpoint's workergroups (not to one deleted since it was made). */
export function ofLiveGroup(groups: readonly { readonly id: number }[], w: WorkerInfo): boolean {
  const g = w.instance.workergroupId;
  return g === null || groups.some((x) => x.id === g);
}

/**
 * During a change of configuration, once a worker of the newest workergroup is ready, only that
 * group's workers take new requests (the old ones finish theirs and are retired); null: any group.
 */
function servingGroup(groups: readonly { readonly id: number; readonly revision: string | null }[], workers: readonly WorkerInfo[]): number | null {
  const newest = groups[groups.length - 1];
  // Workergroups made directly (Vast's, revision null) all serve side by side.
  if (groups.length < 2 || newest === undefined || newest.revision === null) return null;
  return workers.some((w) => w.instance.workergroupId === newest.id && w.phase === 'ready') ? newest.id : null;
}

export interface ResolvedEndpoint {
  /** The endpoint whose workers serve (the alias's target for a route alias). */
  readonly endpoint: EndpointRecord;
  /** The alias the caller named, if any; it must itself be running. */
  readonly via: EndpointRecord | null;
}

/**
 * Find the endpoint a request names, authorised by that endpoint's own key or by its owner's key.
 * Anything else is 401, and a name the caller cannot see is 404, so names do not leak.
 */
export async function resolveEndpoint(ctx: ControlContext, name: string, key: string | null): Promise<ResolvedEndpoint> {
  let named: EndpointRecord | undefined;
  const byKey = key !== null && key.startsWith('gek_') ? await ctx.store.findEndpointByKey(key) : undefined;
  if (byKey !== undefined) {
    named = byKey.name === name ? byKey : undefined;
    if (named === undefined) throw new GantryError('FORBIDDEN', `This endpoint key belongs to endpoint '${byKey.name}', not '${name}'.`);
  } else {
    const p = await authenticate(ctx, key);
    if (p.scope !== 'full') throw new GantryError('FORBIDDEN', 'Use the endpoint key or an account key to call an endpoint.');
    authorize(p, 'serverless.invoke');
    named = await ctx.store.findEndpointByName(p.accountId, name);
  }
  if (named === undefined) throw new GantryError('ENDPOINT_NOT_FOUND', `No endpoint named '${name}'.`, { endpoint: name });
  if (named.aliasOf === null) return { endpoint: named, via: null };
  const target = await ctx.store.findEndpointByName(named.accountId, named.aliasOf);
  if (target === undefined) throw new GantryError('ENDPOINT_NOT_FOUND', `Endpoint '${name}' routes to '${named.aliasOf}', which no longer exists.`);
  return { endpoint: target, via: named };
}

/** The endpoint of a deployment named by its public id, for a caller who may invoke it (AI Core's inference URLs). */
export async function resolveDeployment(ctx: ControlContext, p: Principal, ref: DeploymentRef): Promise<ResolvedEndpoint> {
  authorize(p, 'serverless.invoke');
  const d = await ownDeployment(ctx, p, ref, 'serverless.read');
  const endpoint = await ctx.store.getEndpoint(d.endpointId);
  if (endpoint === undefined || endpoint.status === 'deleted')
    throw new GantryError('DEPLOYMENT_NOT_FOUND', `No deployment with id ${d.uid}.`, { deploymentId: d.uid });
  return { endpoint, via: null };
}
