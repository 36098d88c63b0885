import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import type { WorkerInfo } from './workers.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';

/**
 * Draining one worker of a group before it is restarted in place or replaced (a rolling update): the
 * gateway of the replica running the update routes no new request to it (requests go to the other
 * workers or wait in the queue; `/route/` answers with another worker or "no worker yet"), the requests
 * in it finish, then the caller acts on it. Another replica's gateway does not know the fence: what it
 * sent is waited for through the worker's own report. Bounded by `stopDrainTimeoutMs`, as a deployment
 * stop's drain is.
 */

/** Requests routed (`/route/`) just before the fence reach the worker within this; its report after it says whether it still works on one. */
const GRACE_MS = 1_000;
/** The fence outlives the drain by this, so that it holds until the worker shows as restarting or gone; it is lifted then. */
const FENCE_MARGIN_MS = 120_000;

export interface Drain {
  readonly workerId: number;
  readonly since: number;
  /** Until when the gateway routes around the worker: set again at each pass that looks at the drain. */
  fencedUntil: number;
  /** The restart was asked for (restart in place): the drain is over, the worker is on its way back. */
  rebootAsked: boolean;
}

export type DrainPurpose = 'restart' | 'replace';

/**
 * The worker each group drains now, per store (one per Gantry in a process) and purpose. Memory of the
 * replica whose loop holds the endpoint's lease: if the lease moves, the new holder starts the drain of
 * a still outdated worker again (the fence expires by itself), and a drain whose fence lapsed meanwhile
 * is forgotten, so it is begun again rather than found late at once.
 */
const memory = new WeakMap<object, Map<string, Drain>>();

/** A drain still in force: its worker is rebooting, or its fence has not lapsed. */
const holds = (d: Drain, now: number): boolean => d.rebootAsked || d.fencedUntil > now;

function all(ctx: ControlContext): Map<string, Drain> {
  let m = memory.get(ctx.store);
  if (m === undefined) memory.set(ctx.store, (m = new Map<string, Drain>()));
  return m;
}

/** The drains of this store for one purpose, by workergroup id; `get` forgets a drain not yet asked for a reboot whose fence lapsed. */
export function drainsOf(
  ctx: ControlContext,
  purpose: DrainPurpose,
): { get(wg: number): Drain | undefined; set(wg: number, d: Drain): void; delete(wg: number): void } {
  const m = all(ctx);
  return {
    get: (wg) => {
      const d = m.get(`${purpose}:${wg}`);
      if (d === undefined || holds(d, ctx.clock.now())) return d;
      m.delete(`${purpose}:${wg}`);
      return undefined;
    },
    set: (wg, d) => void m.set(`${purpose}:${wg}`, d),
    delete: (wg) => void m.delete(`${purpose}:${wg}`),
  };
}

/** Workers this replica routes around for a drain, of any group and purpose: they serve no new request. */
export function drainingWorkers(ctx: ControlContext): Set<number> {
  const now = ctx.clock.now();
  return new Set([...all(ctx).values()].filter((d) => holds(d, now)).map((d) => d.workerId));
}

/** Begin a worker's drain: route around it from now on. */
export function beginDrain(ctx: ControlContext, ep: EndpointRecord, workerId: number): Drain {
  const now = ctx.clock.now();
  const d: Drain = { workerId, since: now, fencedUntil: 0, rebootAsked: false };
  fenceFor(ctx, ep, d, now);
  ctx.traffic.invalidate(ep.id);
  return d;
}

/** Route to the worker again (its drain is over: it is back, or gone). */
export function liftFence(ctx: ControlContext, ep: EndpointRecord, workerId: number): void {
  ctx.traffic.fence(ep.id, workerId, 0);
  ctx.traffic.invalidate(ep.id);
}

/**
 * The group's update is over or was cancelled, or nothing else serves: forget its drains, and route to
 * the drained workers again. A worker already rebooting keeps a short fence (until the worker list
 * shows it restarting), so no request is sent to its closed port meanwhile.
 */
export function endDrains(ctx: ControlContext, ep: EndpointRecord, workergroupId: number): void {
  for (const purpose of ['restart', 'replace'] as const) {
    const byGroup = drainsOf(ctx, purpose);
    const d = byGroup.get(workergroupId);
    if (d === undefined) continue;
    byGroup.delete(workergroupId);
    if (!d.rebootAsked) liftFence(ctx, ep, d.workerId);
    else ctx.traffic.fence(ep.id, d.workerId);
  }
}

export interface DrainProgress {
  /** Nothing in flight through this gateway, and the worker's own report (if it reports) says it works on nothing. */
  readonly drained: boolean;
  /** The drain took stopDrainTimeoutMs: act on the worker anyway. */
  readonly late: boolean;
  /** Requests the worker still works on, as far as anyone knows. */
  readonly inFlight: number;
}

/** How far the worker's drain is; keeps the fence up while it lasts. */
export function drainProgress(ctx: ControlContext, ep: EndpointRecord, w: WorkerInfo, d: Drain): DrainProgress {
  const now = ctx.clock.now();
  const id = w.instance.id;
  fenceFor(ctx, ep, d, now);
  const inFlight = ctx.traffic.workerLoad(ep.id).get(id)?.inFlight ?? 0;
  // A worker that reports says itself what it works on (requests other replicas or `/route/` sent); one that does not (http readiness) has only the gateway's count.
  // Its report of nothing to do counts when made after the grace (a request routed just before the fence has arrived
  // by then). Or sooner, made after the fence, when every hand-out of this replica's `/route/` that could reach the worker
  // after it (routed within the grace before it) was listed finished by the worker: Vast's library lists what it finished
  // each second but sends an unchanged report only every ten, so a drain otherwise waited that long.
  const r = w.report;
  const quiet =
    r === null ||
    (r.numRequestsWorking === 0 &&
      (r.reportedAt >= d.since + GRACE_MS || (r.reportedAt >= d.since && !ctx.traffic.unfinishedHandOuts(ep.id, id, r.reportedAt - GRACE_MS))));
  return {
    drained: inFlight === 0 && now - d.since >= GRACE_MS && quiet,
    late: now - d.since >= ctx.settings.stopDrainTimeoutMs,
    inFlight: Math.max(inFlight, r?.numRequestsWorking ?? 0),
  };
}

function fenceFor(ctx: ControlContext, ep: EndpointRecord, d: Drain, now: number): void {
  d.fencedUntil = now + ctx.settings.stopDrainTimeoutMs + FENCE_MARGIN_MS;
  ctx.traffic.fence(ep.id, d.workerId, d.fencedUntil);
}

/**
 * The drain ran out of time and the worker goes all the same (`what`: replaced, restarted in place, or
 * destroyed with its deleted workergroup). What this replica's gateway still has in flight at it is cut
 * now with that reason, instead of breaking as the worker stops with a bare "the worker failed".
 */
export function drainRanOut(ctx: ControlContext, ep: EndpointRecord, workerId: number, inFlight: number, what: string): void {
  const s = Math.round(ctx.settings.stopDrainTimeoutMs / 1000);
  const cut = ctx.traffic.failAtWorker(
    ep.id,
    workerId,
    new GantryError(
      'WORKER_FAILED',
      `The worker serving this request was ${what} after its drain ran out of time (stopDrainTimeoutMs, ${s} s); the request may have been partly processed.`,
      { endpointId: ep.id, workerId },
    ),
  );
  ctx.log.warn({ endpointId: ep.id, instanceId: workerId, inFlight, cut }, `worker ${what} with requests in flight: the drain timeout passed`);
}
