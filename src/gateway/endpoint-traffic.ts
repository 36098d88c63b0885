import { GantryError } from '../domain/errors.js';
import { NO_LIMITS } from '../domain/serverless/limits.js';
import { anyComing } from '../domain/serverless/workers.js';
import type { RoutableWorker, RoutingView } from '../control/serverless/routing.js';
import type { Abort } from './abort.js';
import { Tally, type RequestOutcome } from './inference-stats.js';

/** How long a /route/ hand-out counts against its worker, unless the worker says sooner that it finished it (/delete_requests/). */
const ROUTED_TTL_MS = 2_000;
/** How long the time of a hand-out whose end was not seen is kept (a drain asks about the last few seconds). */
const UNSEEN_KEPT_MS = 60_000;
/** The least time between two demand signals of one endpoint, without workers and with all busy (see `demandDue`). */
const DEMAND_MS = 100;
const DEMAND_BUSY_MS = 250;
/** A worker's counters, once it is out of the worker list and took no request for this long, are forgotten. */
const IDLE_TALLY_KEPT_MS = 3_600_000;
/** Seconds of arrivals kept as load samples. */
const SAMPLE_SECONDS = 300;
/** Cost units in the second still filling from which it is read as a rate (see loadSamples). */
const RATE_FROM = 10;

/**
 * The largest cost one request may add to a worker's total. The edge refuses costs above its
 * `maxRequestCost` setting; this bound only keeps the sums finite whatever reaches the gateway
 * (an Infinity added and later subtracted would leave NaN, and a NaN total is never the smallest:
 * the worker would never be chosen again).
 */
export const MAX_ACCOUNTED_COST = 1e12;

/**
 * A request's cost as the traffic accounting counts it: always finite and ≥ 0. Not a number counts as
 * the default cost of 1, a negative cost as 0, anything above the bound as the bound.
 */
export function accountedCost(cost: number): number {
  if (Number.isNaN(cost)) return 1;
  if (cost <= 0) return 0;
  return Math.min(cost, MAX_ACCOUNTED_COST);
}

export interface TrafficOptions {
  /** Read an endpoint's routing view (from the store); cached for `directoryMs`. */
  readonly directory: (endpointId: number) => Promise<RoutingView>;
  /** Record that the endpoint saw a request (throttled to once a second per endpoint). */
  readonly touch: (endpointId: number, at: number) => Promise<void>;
  readonly now: () => number;
  readonly directoryMs: number;
  readonly queueTimeoutMs: number;
  /**
   * A request waits: whoever scales the endpoint should look at it now, not at its next tick. With no
   * worker to route to (scale from zero, start an inactive worker) at most once per DEMAND_MS per
   * endpoint; behind busy workers (a load step: scale up fast) at most once per DEMAND_BUSY_MS, so an
   * endpoint saturated at its maximum costs a few passes a second, not one per queued request. (An
   * endpoint with no worker may rest: the pass's tick ends the rest first, see TrafficGate.waiting.)
   */
  readonly demand?: (endpointId: number) => void;
  /** Shares this replica's held requests through the store, so a drain on any replica waits for them. */
  readonly shared: {
    readonly replica: string;
    publish(endpointId: number, pending: number, now: number): Promise<void>;
    elsewhere(endpointId: number, freshSince: number): Promise<number>;
    /**
     * Adds what this gateway answered and failed since it learnt of a stop to the stop's counts;
     * `rejected` (a part of `failed`): those it refused from its queue.
     */
    counted(endpointId: number, answered: number, failed: number, rejected: number): Promise<void>;
    /** This gateway published its count after reading the endpoint's stop: tell the replicas (a drain's closing may end). */
    heard?(endpointId: number): void;
    /** Whether every replica alive since `liveSince` published its count of the endpoint at or after `since`. */
    settled?(endpointId: number, liveSince: number, since: number): Promise<boolean>;
  };
}

/** A request's hold on a worker; release it exactly once when the worker has answered. */
export interface Assignment {
  readonly worker: RoutableWorker;
  /** Aborted when the request must be given up: a drain ran out of time, or the caller's deadline passed before the answer began. */
  readonly signal: Abort;
  /**
   * `answered`: the worker's response came back (counted while the endpoint stops); `outcome`: how
   * it ended, for the inference counters (absent: not counted, e.g. a connection refused and retried).
   */
  release(answered?: boolean, outcome?: RequestOutcome): void;
}

/** A request waiting in an endpoint's queue. */
export interface Waiter {
  readonly cost: number;
  readonly since: number;
  readonly resolve: (a: Assignment) => void;
  readonly reject: (e: GantryError) => void;
  readonly timer: NodeJS.Timeout;
  /** Stops listening to the request's deadline and to its caller leaving. */
  readonly unlisten: () => void;
}

/** One endpoint's traffic on this replica: its queue, requests in flight, load and counters (traffic.ts acts on it). */
export class EndpointTraffic {
  view: RoutingView | null = null;
  viewAt = 0;
  /** The read of the store under way, and the count of intents it started after (only a read as new as the caller's serves it). */
  loading: { readonly intents: number; readonly view: Promise<RoutingView> } | null = null;
  readonly queue: Waiter[] = [];
  /** Per worker: requests in flight from this replica and their summed cost. */
  readonly busy = new Map<number, { inFlight: number; cost: number }>();
  /**
   * /route/ hand-outs, by worker, with their request_idx: counted against the worker until it lists
   * them as finished (Vast's worker library does, each second) or for a short while at most.
   */
  readonly routed = new Map<number, { idx: string; cost: number; at: number }[]>();
  /** Per worker: the latest hand-out dropped before the worker listed it finished (its end was not seen here). */
  readonly unseenEnd = new Map<number, number>();
  /** /route/ calls answered without a worker, by request_idx: demand the autoscaler must see. */
  readonly unmet = new Map<string, number>();
  /** Requests in flight from this replica, each with the worker it is at. */
  readonly inFlight = new Map<Abort, number>();
  /** Workers that refused a connection lately or drain, skipped until the time given (`fence`). */
  readonly suspect = new Map<number, number>();
  /** Workers a request timed out at, and when: skipped until a report of theirs made after it (`stall`). */
  readonly stalled = new Map<number, number>();
  /** Cost received per second (epoch second → cost). */
  readonly arrivals = new Map<number, number>();
  lastTouch = 0;
  /** When demand was last told (TrafficOptions.demand). */
  demandAt = -Infinity;
  pumpTimer: NodeJS.Timeout | null = null;
  /**
   * Requests answered and refused since this gateway learnt the endpoint stopped, not yet reported.
   * Each gateway counts its own exactly and adds them to the endpoint row, so the counts cover every
   * replica whichever one runs the stop. Requests failed at the drain deadline are counted by the
   * serverless loop that fails them; /route/ callers talk to workers directly and are not counted.
   */
  answered = 0;
  refused = 0;
  /** Of `refused`, those dropped from the queue by the stop (the rest timed out in the queue). */
  rejected = 0;
  /** The inference counters: every request, and per worker those sent to it. */
  readonly tally: Tally;
  readonly workerTally = new Map<number, Tally>();
  /** Bumped by every stop or start on this replica, and by a change of workers while requests wait: a view read from the store before it is stale. */
  intents = 0;

  constructor(readonly now: () => number) {
    this.tally = new Tally(now);
  }

  /** Nothing queued or in flight here. */
  holdsNothing(): boolean {
    return this.queue.length === 0 && this.inFlight.size === 0;
  }

  /** Whether to tell demand now (TrafficOptions.demand); if so, it counts as told. */
  demandDue(view: RoutingView, now: number): boolean {
    // Behind busy workers only while none is on its way (a worker still starting is the answer already asked for).
    if ((view.workers.length > 0 && anyComing(view.phases)) || now - this.demandAt < (view.workers.length > 0 ? DEMAND_BUSY_MS : DEMAND_MS)) return false;
    this.demandAt = now;
    return true;
  }

  /** Counts a request's cost as load in its second; returns the cost as accounted (finite, ≥ 0). */
  arrive(now: number, requested: number): number {
    const cost = accountedCost(requested);
    const sec = Math.floor(now / 1000);
    this.arrivals.set(sec, (this.arrivals.get(sec) ?? 0) + cost);
    if (this.arrivals.size > SAMPLE_SECONDS) this.arrivals.delete(this.arrivals.keys().next().value as number);
    return cost;
  }

  /**
   * Load per whole second, and the second still filling once a quarter of it passed: a load step shows
   * within that, not when its second ends. As a rate (so far / time so far) only once RATE_FROM units
   * arrived; below, a rate from a handful of arrivals is noise the autoscaler (which plans for the
   * window's peak) would scale up on, so the count so far stands as a lower bound.
   */
  loadSamples(now: number): { at: number; load: number }[] {
    const current = Math.floor(now / 1000);
    const samples = [...this.arrivals].filter(([s]) => s < current).map(([s, cost]) => ({ at: s * 1000, load: cost }));
    const sofar = this.arrivals.get(current);
    const elapsedS = (now - current * 1000) / 1000;
    if (sofar !== undefined && elapsedS >= 0.25) samples.push({ at: current * 1000, load: sofar >= RATE_FROM ? sofar / elapsedS : sofar });
    return samples;
  }

  workerTallyOf(id: number): Tally {
    let w = this.workerTally.get(id);
    if (w === undefined) this.workerTally.set(id, (w = new Tally(this.now)));
    return w;
  }

  /** A /route/ hand-out of request `idx` to the worker. */
  handOut(workerId: number, idx: string, cost: number, at: number): void {
    const handed = this.routed.get(workerId);
    if (handed === undefined) this.routed.set(workerId, [{ idx, cost, at }]);
    else handed.push({ idx, cost, at });
  }

  /** The worker's hand-outs still counted: not finished, and not older than ROUTED_TTL_MS (those are dropped, and remembered as unseen). */
  handedOut(workerId: number, now: number): readonly { readonly cost: number; readonly at: number }[] {
    const handed = this.routed.get(workerId);
    if (handed === undefined) return [];
    const routed = handed.filter((r) => now - r.at < ROUTED_TTL_MS);
    if (routed.length === handed.length) return routed;
    const dropped = handed.reduce((latest, r) => (now - r.at >= ROUTED_TTL_MS ? Math.max(latest, r.at) : latest), 0);
    this.unseenEnd.set(workerId, Math.max(this.unseenEnd.get(workerId) ?? 0, dropped));
    for (const [id, at] of this.unseenEnd) if (now - at > UNSEEN_KEPT_MS) this.unseenEnd.delete(id);
    if (routed.length === 0) this.routed.delete(workerId);
    else this.routed.set(workerId, routed);
    return routed;
  }

  /** Whether a hand-out made to the worker after `since` was not listed finished by it (still counted, or dropped unseen). */
  unfinishedSince(workerId: number, since: number, now: number): boolean {
    return this.handedOut(workerId, now).some((r) => r.at > since) || (this.unseenEnd.get(workerId) ?? -Infinity) > since;
  }

  /**
   * The worker finished these hand-outs (its own list): they no longer count against it. One hand-out per
   * entry, the oldest of its request_idx: a client asks /route/ again with the same request_idx after a
   * failed try, and the worker lists each try it saw as an entry of its own.
   */
  finished(workerId: number, idxs: readonly string[]): void {
    const handed = this.routed.get(workerId);
    if (handed === undefined) return;
    // Counted, then one pass over the hand-outs (oldest first): the list is read each second under load.
    const listed = new Map<string, number>();
    for (const idx of idxs) listed.set(idx, (listed.get(idx) ?? 0) + 1);
    const left = handed.filter((r) => {
      const n = listed.get(r.idx) ?? 0;
      if (n > 0) listed.set(r.idx, n - 1);
      return n === 0;
    });
    if (left.length === 0) this.routed.delete(workerId);
    else this.routed.set(workerId, left);
  }

  #estimatedWait(w: RoutableWorker, now: number): { wait: number; idle: boolean; sent: number } {
    const mine = this.busy.get(w.id);
    const routed = this.handedOut(w.id, now);
    const cost = (mine?.cost ?? 0) + routed.reduce((s, r) => s + r.cost, 0);
    const sent = (mine?.inFlight ?? 0) + routed.length;
    const n = Math.max(sent, w.working);
    return { wait: cost / w.perf, idle: n === 0, sent };
  }

  /** The worker with the shortest estimated wait that has room for `cost`, or null. */
  pick(view: RoutingView, cost: number, now: number): RoutableWorker | null {
    let best: RoutableWorker | null = null;
    let bestWait = Infinity;
    const max = view.limits.maxConcurrentPerWorker;
    for (const w of view.workers) {
      if ((this.suspect.get(w.id) ?? 0) > now) continue;
      if (this.#stalled(w)) continue;
      const { wait, idle, sent } = this.#estimatedWait(w, now);
      // A fixed concurrency counts what this replica sent, exactly: workers' own reports lag by up
      // to their report interval and would hold a free worker back. Other replicas keep their own count.
      if (max > 0 && sent >= max) continue;
      if (max === 0 && !idle && wait + cost / w.perf > view.maxQueueTimeS) continue;
      if (wait < bestWait) {
        best = w;
        bestWait = wait;
      }
    }
    return best;
  }

  /**
   * A request to the worker timed out: route around it until it reports again. A frozen worker (process
   * alive, event loop stuck) would otherwise take request after request, each ending in WORKER_TIMEOUT,
   * until its report goes stale (workerReportStaleMs); a live one reports within seconds.
   */
  stall(workerId: number, at: number): void {
    this.stalled.set(workerId, at);
  }

  /** Still stalled: no report made after its timeout yet (one is: the stall is over). */
  #stalled(w: RoutableWorker): boolean {
    const at = this.stalled.get(w.id);
    if (at === undefined) return false;
    if (w.reportedAt <= at) return true;
    this.stalled.delete(w.id);
    return false;
  }

  /**
   * Stalls of workers the view no longer routes to (destroyed, or in error): forgotten, so they do not pile up;
   * and the counters of those that took no request for an hour (autoscaling makes new workers all the time; the
   * stats show only the workers there are, and one started again counts from its start).
   */
  keepWorkersOf(view: RoutingView, now: number): void {
    const routed = new Set(view.workers.map((w) => w.id));
    for (const id of this.stalled.keys()) if (!routed.has(id)) this.stalled.delete(id);
    for (const [id, tally] of this.workerTally) if (!routed.has(id) && now - (tally.lastAccess ?? 0) > IDLE_TALLY_KEPT_MS) this.workerTally.delete(id);
    // /route/ hand-outs to a worker no longer routed to: only a look at that worker dropped them once expired.
    for (const id of this.routed.keys()) if (!routed.has(id)) this.handedOut(id, now);
  }

  /** Skip the worker until `until` (0 or past: route to it again). Fences that ran out go here, so workers long gone do not pile up. */
  fence(workerId: number, until: number): void {
    const now = this.now();
    for (const [id, end] of this.suspect) if (end <= now) this.suspect.delete(id);
    if (until > now) this.suspect.set(workerId, until);
    else this.suspect.delete(workerId);
  }
}

export const closed = (t: EndpointTraffic): boolean => t.view !== null && !t.view.accepting;

export function rejectedByStop(endpointId: number): GantryError {
  return new GantryError('REQUEST_REJECTED_BY_STOP', 'The deployment is being stopped; this request was queued and was not processed.', { endpointId });
}

/** The view of an endpoint this gateway has not read yet (routing closes before the first read). */
export function unknownView(endpointId: number): RoutingView {
  return { endpointId, accepting: false, draining: false, maxQueueTimeS: 0, workers: [], phases: {}, deleted: false, limits: NO_LIMITS, rejectQueued: false };
}

/** A new request refused because routing is closed (`notTaken`: it was never accepted, so a dialect may word it as its API does). */
export function stopped(v: RoutingView): GantryError {
  const message =
    // Not its status message itself: that quotes the workers' output, which the endpoint's callers (its key) may not read.
    // The field is named by its engine name, quoted: each dialect's error body calls it by its own (Vast's status_msg).
    v.failed === true
      ? "The endpoint failed (its workers kept failing) and takes no requests; its owner sees why in its 'statusMsg' and starts it again."
      : 'The endpoint is stopped or stopping and takes no new requests; start it and try again.';
  return new GantryError('ENDPOINT_STOPPED', message, {
    endpointId: v.endpointId,
    notTaken: true,
    // Failed, not stopped: a dialect that words refusals as its API does (Elasticsearch's _infer) reads this, not the words.
    ...(v.failed === true ? { failed: true } : {}),
  });
}

/** A request to an endpoint with no workergroup: no worker can come, so it is refused at once, not after the queue's timeout. */
export function noWorkergroup(endpointId: number): GantryError {
  return new GantryError(
    'NO_WORKERGROUP',
    'The endpoint has no workergroup, so no worker can serve this request; it was not processed. Create a workergroup for the endpoint, then try again.',
    { endpointId },
  );
}

/** A queued request whose caller left (`Traffic.acquire`'s `gone`). */
export function callerLeft(endpointId: number): GantryError {
  return new GantryError('CALLER_LEFT', 'The caller left while its request waited for a worker; it was not processed.', { endpointId });
}

export function queueTimeout(endpointId: number, ms: number): GantryError {
  return new GantryError('QUEUE_TIMEOUT', `No worker of this endpoint could take the request within ${ms / 1000}s; it was not processed.`, { endpointId });
}

/** A request refused once the server shuts down. Not ENDPOINT_STOPPED: the endpoint is not stopped, and a client may try again elsewhere or later. */
export function shuttingDown(): GantryError {
  return new GantryError('SHUTTING_DOWN', 'The server is shutting down; this request was not processed.');
}
