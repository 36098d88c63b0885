import { GantryError } from '../domain/errors.js';
import type { RoutableWorker, RoutingView } from '../control/serverless/routing.js';
import type { FailedHeld, InferenceStats, PendingWork, TrafficGate } from '../control/serverless/traffic-gate.js';
import { Abort, abortAll } from './abort.js';
import type { RequestOutcome } from './inference-stats.js';
import { failHeld, failQueued, pendingOf, statsOf, waitingOf } from './held-requests.js';
import { SharedPending } from './shared-pending.js';
import { readView } from './view-read.js';
import { waitInQueue } from './queue-wait.js';
import {
  accountedCost,
  callerLeft,
  closed,
  EndpointTraffic,
  noWorkergroup,
  rejectedByStop,
  shuttingDown,
  stopped,
  unknownView,
  type Assignment,
  type TrafficOptions,
  type Waiter,
} from './endpoint-traffic.js';

export type { Assignment, TrafficOptions } from './endpoint-traffic.js';
/** A deleted endpoint's record whose counts could not be written yet is looked at again after this. */
const FORGET_RETRY_MS = 1_000;

/**
 * This replica's traffic: which worker gets the next request, the queue of requests waiting for one (bounded by
 * queueTimeoutMs, also while scaling from zero), requests in flight, and the load seen. A worker is full when its
 * estimated wait passes the endpoint's max_queue_time; an idle worker always takes a request.
 */
export class Traffic implements TrafficGate {
  readonly #o: TrafficOptions;
  readonly #eps = new Map<number, EndpointTraffic>();
  readonly #shared: SharedPending;
  #closed = false;

  constructor(o: TrafficOptions) {
    this.#o = o;
    this.#shared = new SharedPending(o, this.#eps);
  }

  async flushStopCounts(endpointId: number): Promise<void> {
    const t = this.#eps.get(endpointId);
    if (t !== undefined) await this.#shared.count(endpointId, t);
  }

  async pendingElsewhere(endpointId: number): Promise<number> {
    return this.#shared.elsewhere(endpointId);
  }

  stopSettled(endpointId: number, since: number): Promise<boolean> {
    return this.#shared.settled(endpointId, since);
  }

  /**
   * An endpoint changed (a stop, a start, written at any replica; null: any may have): read its view
   * now, not within workerDirectoryMs, and once it takes no new requests say what this gateway holds.
   */
  async heard(endpointId: number | null): Promise<void> {
    if (endpointId === null) {
      for (const t of this.#eps.values()) t.viewAt = 0;
      return;
    }
    const t = this.#eps.get(endpointId);
    if (t !== undefined) {
      t.intents++; // a read of the store already under way may predate the change
      t.viewAt = 0;
      if ((await this.#view(endpointId, t)).accepting) return;
    }
    await this.#shared.heard(endpointId);
  }

  #ep(id: number): EndpointTraffic {
    let t = this.#eps.get(id);
    if (t === undefined) this.#eps.set(id, (t = new EndpointTraffic(this.#o.now)));
    return t;
  }

  async #view(id: number, t: EndpointTraffic): Promise<RoutingView> {
    const { view: v, read } = await readView(this.#o, id, t);
    if (!read) return v;
    t.keepWorkersOf(v, this.#o.now());
    if (!v.accepting && !v.draining) failQueued(t, v.rejectQueued ? rejectedByStop(v.endpointId) : stopped(v), 'refused');
    // Its last workergroup was deleted: what waits for a worker would wait the queue's whole timeout for none.
    else if (v.accepting && v.noWorkergroup === true) failQueued(t, noWorkergroup(v.endpointId), 'rejected');
    if (v.deleted) this.#forgetIfDone(id, t);
    return v;
  }

  /** Count a request's cost as load and as activity (for inactivity_timeout); returns the cost as accounted (finite, ≥ 0). */
  #arrive(id: number, t: EndpointTraffic, requested: number): number {
    const now = this.#o.now();
    const cost = t.arrive(now, requested);
    if (now - t.lastTouch >= 1000) {
      t.lastTouch = now;
      void this.#o.touch(id, now).catch(() => undefined);
    }
    return cost;
  }

  #assign(endpointId: number, t: EndpointTraffic, w: RoutableWorker, cost: number): Assignment {
    const b = t.busy.get(w.id) ?? { inFlight: 0, cost: 0 };
    t.busy.set(w.id, { inFlight: b.inFlight + 1, cost: b.cost + cost });
    const ac = new Abort();
    t.inFlight.set(ac, w.id);
    t.workerTallyOf(w.id).seen();
    let released = false;
    return {
      worker: w,
      signal: ac,
      release: (answered = false, outcome?: RequestOutcome) => {
        if (released) return;
        released = true;
        if (answered && !ac.aborted && closed(t)) t.answered++;
        if (outcome !== undefined) {
          t.tally.ended(outcome);
          t.workerTallyOf(w.id).ended(outcome);
        }
        t.inFlight.delete(ac);
        const cur = t.busy.get(w.id);
        if (cur !== undefined) {
          if (cur.inFlight <= 1) t.busy.delete(w.id);
          else t.busy.set(w.id, { inFlight: cur.inFlight - 1, cost: Math.max(0, cur.cost - cost) });
        }
        this.#pump(endpointId, t);
        this.#heardIfLast(endpointId, t);
      },
    };
  }

  /** The last request of a stopping endpoint ended or left: say so now, a drain waits for it. */
  #heardIfLast(endpointId: number, t: EndpointTraffic): void {
    if (!closed(t) || !t.holdsNothing()) return;
    void this.#shared.heard(endpointId).catch(() => undefined);
    if (t.view?.deleted === true) this.#forgetIfDone(endpointId, t);
  }

  /**
   * A deleted endpoint that holds nothing here is forgotten, its counts written first: a gateway kept a record
   * (some kilobytes) per endpoint it ever routed to. A late request (its caller's rights remembered) makes a
   * new one, refused and forgotten at its first read.
   */
  #forgetIfDone(endpointId: number, t: EndpointTraffic): void {
    if (!t.holdsNothing()) return;
    void this.#shared.count(endpointId, t).finally(() => {
      if (this.#eps.get(endpointId) !== t || !t.holdsNothing() || this.#closed) return;
      // Its counts were not written (the store away): kept, and the record with them, until they are.
      if (t.answered + t.refused > 0) return void setTimeout(() => this.#forgetIfDone(endpointId, t), FORGET_RETRY_MS).unref();
      if (t.pumpTimer !== null) clearTimeout(t.pumpTimer);
      this.#eps.delete(endpointId);
      this.#shared.forget(endpointId);
    });
  }

  /**
   * A worker for a proxied request: at once if one has room, else after waiting in the queue. Rejects
   * with ENDPOINT_STOPPED (503), SHUTTING_DOWN (503), QUEUE_FULL (429) when the queue holds queueCapacity requests,
   * QUEUE_TIMEOUT (504), or the reason of `deadline` when it aborts first; never waits without bound.
   * `gone` aborts when the caller left: no worker then, and a place in the queue is given up at once
   * (CALLER_LEFT, counted neither as timed out nor refused), not held until a worker has room.
   */
  async acquire(endpointId: number, requested: number, deadline?: AbortSignal, gone?: Abort): Promise<Assignment> {
    // Checked again after each wait: the caller may leave while its key, endpoint or worker list is read.
    const left = (): boolean => gone?.aborted === true;
    if (left() || this.#closed) throw this.#closed ? shuttingDown() : callerLeft(endpointId);
    const t = this.#ep(endpointId);
    const cost = this.#arrive(endpointId, t, requested);
    t.tally.seen();
    const view = await this.#view(endpointId, t);
    if (this.#closed) throw shuttingDown();
    if (!view.accepting) throw stopped(view);
    if (view.noWorkergroup === true) {
      t.tally.rejected();
      throw noWorkergroup(endpointId);
    }
    if (left()) throw callerLeft(endpointId);
    const w = t.queue.length === 0 ? t.pick(view, cost, this.#o.now()) : null;
    if (w !== null) {
      this.#shared.held(endpointId);
      return this.#assign(endpointId, t, w, cost);
    }
    const capacity = view.limits.queueCapacity;
    if (capacity > 0 && t.queue.length >= capacity) {
      t.tally.rejected();
      throw new GantryError('QUEUE_FULL', `The queue of this endpoint holds ${capacity} request(s) already; this request was not processed. Try again later.`, {
        endpointId,
        queueCapacity: capacity,
      });
    }
    if (deadline?.aborted === true) {
      t.tally.timedOut();
      throw deadline.reason;
    }
    this.#shared.held(endpointId);
    this.#demand(endpointId, t, view);
    const queued = waitInQueue(t, endpointId, { cost, since: this.#o.now(), timeoutMs: this.#o.queueTimeoutMs, deadline, gone }, () =>
      this.#heardIfLast(endpointId, t),
    );
    this.#schedulePump(endpointId, t);
    return queued;
  }

  /** A worker with room now, with neither a wait nor a read of the store (the wire path); null when it would take either, or once shut down. */
  tryAcquire(endpointId: number, requested: number): Assignment | null {
    const t = this.#eps.get(endpointId);
    const view = t?.view;
    if (this.#closed || t === undefined || view === null || view === undefined || !view.accepting || t.queue.length > 0) return null;
    const now = this.#o.now();
    if (now - t.viewAt >= this.#o.directoryMs) return null;
    const w = t.pick(view, accountedCost(requested), now);
    if (w === null) return null;
    const cost = this.#arrive(endpointId, t, requested);
    t.tally.seen();
    this.#shared.held(endpointId);
    return this.#assign(endpointId, t, w, cost);
  }

  /** /route/: a worker with room now, or null (the client asks again with the same request_idx). */
  async route(endpointId: number, requested: number, requestIdx: string): Promise<{ worker: RoutableWorker | null; view: RoutingView }> {
    const t = this.#ep(endpointId);
    const cost = t.unmet.has(requestIdx) ? accountedCost(requested) : this.#arrive(endpointId, t, requested);
    const view = await this.#view(endpointId, t);
    if (!view.accepting) return { worker: null, view };
    const w = t.pick(view, cost, this.#o.now());
    if (w === null) {
      if (!t.unmet.has(requestIdx)) this.#demand(endpointId, t, view);
      t.unmet.set(requestIdx, this.#o.now());
      return { worker: null, view };
    }
    t.unmet.delete(requestIdx);
    t.handOut(w.id, requestIdx, cost, this.#o.now());
    return { worker: w, view };
  }

  /** Ask for a look at the endpoint's workers now: a request waits, none there or none with room. */
  #demand(endpointId: number, t: EndpointTraffic, view: RoutingView): void {
    if (this.#o.demand !== undefined && t.demandDue(view, this.#o.now())) this.#o.demand(endpointId);
  }

  /** Read the view again and hand queued requests out: after `delayMs` (the periodic look), or at once (a worker changed). */
  #schedulePump(endpointId: number, t: EndpointTraffic, delayMs = this.#o.directoryMs): void {
    if (t.pumpTimer !== null) {
      if (delayMs > 0) return;
      clearTimeout(t.pumpTimer);
    }
    t.pumpTimer = setTimeout(() => {
      t.pumpTimer = null;
      void this.#view(endpointId, t)
        .then(() => this.#pump(endpointId, t))
        .catch(() => undefined)
        .finally(() => {
          if (t.queue.length > 0) this.#schedulePump(endpointId, t);
        });
    }, delayMs);
    t.pumpTimer.unref();
  }

  /** Hand queued requests to workers with room, oldest first. */
  #pump(endpointId: number, t: EndpointTraffic): void {
    const view = t.view;
    if (view === null || (!view.accepting && !view.draining)) return;
    while (t.queue.length > 0) {
      const head = t.queue[0] as Waiter;
      const w = t.pick(view, head.cost, this.#o.now());
      if (w === null) return;
      t.queue.shift();
      clearTimeout(head.timer);
      head.unlisten();
      head.resolve(this.#assign(endpointId, t, w, head.cost));
    }
  }

  /** Route around a worker until `until`: it refused a connection (by default until the worker list shows what became of it), or it drains for a restart. */
  fence(endpointId: number, workerId: number, until = this.#o.now() + Math.max(3_000, 4 * this.#o.directoryMs)): void {
    // Also before this gateway routed a request of it: a drain fences its worker before the first one comes.
    this.#ep(endpointId).fence(workerId, until);
  }

  /** A request to the worker timed out (WORKER_TIMEOUT): no new request goes to it until it reports again. */
  stall(endpointId: number, workerId: number): void {
    this.#ep(endpointId).stall(workerId, this.#o.now());
  }

  stalledWorkers(endpointId: number): ReadonlyMap<number, number> {
    return this.#eps.get(endpointId)?.stalled ?? new Map();
  }

  close(endpointId: number, o: { readonly drain: boolean; readonly rejectQueued?: boolean; readonly waits?: boolean }): void {
    const t = this.#ep(endpointId);
    t.intents++;
    const rejectQueued = o.rejectQueued === true;
    t.view = { ...(t.view ?? unknownView(endpointId)), accepting: false, draining: o.drain, rejectQueued, stopWaits: o.waits === true };
    t.viewAt = this.#o.now();
    // /route/ callers that got no worker are demand no longer: a drain must not wait for them.
    t.unmet.clear();
    if (!o.drain) failQueued(t, rejectQueued ? rejectedByStop(endpointId) : stopped(t.view), 'refused');
  }

  /**
   * Routing to the endpoint is closed by a stop that stops its workers under the requests they hold, after their grace: a plain
   * stop at once, any stop once it asked its workers to stop. Not while a stop waits for what is in flight (a drain, Elasticsearch's
   * stop: a worker that fails then failed on its own), nor a failed endpoint (its routing is closed because its workers failed).
   */
  stoppingPlainly(endpointId: number): boolean {
    const v = this.#eps.get(endpointId)?.view;
    return v !== null && v !== undefined && !v.accepting && v.draining !== true && v.stopWaits !== true && v.failed !== true;
  }

  open(endpointId: number): void {
    this.#ep(endpointId).intents++;
    this.invalidate(endpointId);
  }

  invalidate(endpointId: number): void {
    const t = this.#eps.get(endpointId);
    if (t === undefined) return;
    t.viewAt = 0;
    // A worker became ready (or changed): requests held for one go now, not at the next periodic look,
    // and a read of the store already under way (it may predate the change) is not the one they get.
    if (t.queue.length > 0) {
      t.intents++;
      this.#schedulePump(endpointId, t, 0);
    }
  }

  pending(endpointId: number): PendingWork {
    return pendingOf(this.#eps.get(endpointId), this.#o.now());
  }

  waiting(): number[] {
    return waitingOf(this.#eps, this.#o.now());
  }

  failPending(endpointId: number, why: string, rejectQueued = false): FailedHeld {
    return failHeld(this.#eps.get(endpointId), endpointId, why, rejectQueued);
  }

  stats(endpointId: number): InferenceStats {
    return statsOf(this.#eps.get(endpointId), this.#o.now);
  }

  loadSamples(endpointId: number): readonly { at: number; load: number }[] {
    return this.#eps.get(endpointId)?.loadSamples(this.#o.now()) ?? [];
  }

  workerLoad(endpointId: number): ReadonlyMap<number, { inFlight: number; cost: number }> {
    return this.#eps.get(endpointId)?.busy ?? new Map();
  }

  unfinishedHandOuts(endpointId: number, workerId: number, since: number): boolean {
    return this.#eps.get(endpointId)?.unfinishedSince(workerId, since, this.#o.now()) ?? false;
  }

  failAtWorker(endpointId: number, workerId: number, err: GantryError): number {
    const t = this.#eps.get(endpointId);
    if (t === undefined) return 0;
    const at = [...t.inFlight].filter(([, w]) => w === workerId).map(([ac]) => ac);
    abortAll(at, err);
    return at.length;
  }

  finished(endpointId: number, workerId: number, requestIdxs: readonly string[]): void {
    if (requestIdxs.length > 0) this.#eps.get(endpointId)?.finished(workerId, requestIdxs);
  }

  /** Fail every queued request, and refuse every later one (server shutdown): none waits behind a timer no one ends. */
  shutdown(): void {
    this.#closed = true;
    this.#shared.close();
    for (const t of this.#eps.values()) {
      failQueued(t, shuttingDown(), 'timedOut');
      if (t.pumpTimer !== null) clearTimeout(t.pumpTimer);
    }
  }
}
