import type { Change } from '../../store/change-feed.js';
import type { ControlContext } from '../context.js';

/**
 * What asks the serverless loop for a pass besides its tick and its own retries: an intent or a
 * deadline on this replica (EndpointSignal), an intent written at another replica, and a new status
 * of a worker the last pass saw — a stop that waits for its workers ends as soon as the reconciler
 * recorded the last one stopped, not at the next look.
 *
 * A change of a worker of an endpoint that rests (its cold workers kept in reserve: decision 026) or whose
 * pass runs here ends its rest first: an intent on the instance (stopped, started, destroyed by its owner)
 * or a new status (its host's runtime lost it, its machine was deleted) may call for a new worker.
 */
export class ServerlessWakeups {
  /** Worker instance id → its endpoint, as the last pass of that endpoint saw them. */
  readonly #endpointOf = new Map<number, number>();
  readonly #workersOf = new Map<number, readonly number[]>();
  /** Endpoints whose last pass here let them rest, and those whose pass runs here now. */
  readonly #resting = new Set<number>();
  readonly #passing = new Set<number>();
  /** Passes under way here whose endpoint a wake was written for: one write per pass, and it does not rest. */
  readonly #wokenDuring = new Set<number>();
  readonly #ctx: Pick<ControlContext, 'store' | 'clock' | 'endpointSignal' | 'log'>;
  readonly #passNow: () => void;
  readonly #unsubscribe: readonly (() => void)[];

  constructor(ctx: Pick<ControlContext, 'store' | 'clock' | 'endpointSignal' | 'log'>, passAt: (at: number) => void) {
    this.#ctx = ctx;
    const passNow = (this.#passNow = (): void => passAt(ctx.clock.now()));
    this.#unsubscribe = [
      ctx.endpointSignal.onPassDue((at) => passAt(at ?? ctx.clock.now())),
      ctx.store.changes.subscribe('endpoint', passNow),
      // A gateway read a stop and published what it holds: a drain's closing may end now.
      ctx.store.changes.subscribe('gateway', passNow),
      ctx.store.changes.subscribe('instance-status', (c) => this.#workerChanged(c)),
      ctx.store.changes.subscribe('instance', (c) => this.#workerChanged(c)),
    ];
  }

  #workerChanged(c: Change): void {
    // An `instance` change without an id asks the reconciler for a sweep (an instance created, a host
    // connected): none of a cold worker. One of `instance-status` is the feed's resynchronisation: what
    // changed meanwhile is not known, so every endpoint with workers resting here, or passed here now, wakes.
    if (c.id === null) {
      if (c.topic === 'instance') return;
      const resting = [...this.#resting].filter((id) => this.#workersOf.has(id));
      const passing = [...this.#passing].filter((id) => !this.#wokenDuring.has(id));
      if (resting.length > 0) this.#wake(() => this.#ctx.store.wakeResting(resting), resting);
      for (const id of passing) this.#wake(() => this.#ctx.store.wakeEndpoint(id), [id]);
      if (resting.length + passing.length === 0) this.#passNow();
      return;
    }
    const endpointId = this.#endpointOf.get(c.id);
    if (endpointId === undefined) return;
    // During a pass, intents on its workers are mostly its own (a stop, a start, a destroy: it acted, so it does
    // not rest); a change it did not make shows as a new status too, once recorded.
    const asleep = this.#resting.has(endpointId) || (c.topic === 'instance-status' && this.#passing.has(endpointId) && !this.#wokenDuring.has(endpointId));
    // A 0 whatever the row holds: a pass under way (here or elsewhere) may rest it on what it read before the change.
    if (asleep) this.#wake(() => this.#ctx.store.wakeEndpoint(endpointId), [endpointId]);
    else if (c.topic === 'instance-status') this.#passNow();
  }

  /** Write the wake, then ask for a pass; the endpoints are not woken again before their next pass. */
  #wake(write: () => Promise<unknown>, ids: readonly number[]): void {
    for (const id of ids) {
      this.#resting.delete(id);
      if (this.#passing.has(id)) this.#wokenDuring.add(id);
    }
    void write()
      .catch((err: unknown) => {
        this.#ctx.log.warn({ err, endpointIds: ids }, 'resting endpoint not woken');
        // Not written: still asleep for the next change or resynchronisation to wake (a pass since may say otherwise).
        for (const id of ids) {
          this.#wokenDuring.delete(id);
          if (!this.#passing.has(id)) this.#resting.add(id);
        }
      })
      .then(this.#passNow);
  }

  /** A pass of the endpoint begins here. */
  passing(endpointId: number): void {
    this.#passing.add(endpointId);
  }

  /** The pass ended: whether what it wrote lets the endpoint rest (not if a wake was written meanwhile). */
  passed(endpointId: number, rests: boolean): void {
    this.#passing.delete(endpointId);
    const woken = this.#wokenDuring.delete(endpointId);
    if (rests && !woken) this.#resting.add(endpointId);
    else this.#resting.delete(endpointId);
  }

  /** A worker the pass just recruited: its start (and readiness probes) ask for the next pass too. */
  recruited(endpointId: number, instanceId: number): void {
    this.#endpointOf.set(instanceId, endpointId);
    this.#workersOf.set(endpointId, [...(this.#workersOf.get(endpointId) ?? []), instanceId]);
  }

  /** The workers a pass of the endpoint saw: a change of their status asks for the next pass. */
  saw(endpointId: number, workers: readonly { readonly instance: { readonly id: number } }[]): void {
    const workerIds = workers.map((w) => w.instance.id);
    for (const id of this.#workersOf.get(endpointId) ?? []) this.#endpointOf.delete(id);
    for (const id of workerIds) this.#endpointOf.set(id, endpointId);
    if (workerIds.length > 0) this.#workersOf.set(endpointId, workerIds);
    else this.#workersOf.delete(endpointId);
  }

  close(): void {
    for (const u of this.#unsubscribe) u();
    this.#endpointOf.clear();
    this.#workersOf.clear();
    this.#resting.clear();
    this.#passing.clear();
    this.#wokenDuring.clear();
  }
}
