/**
 * In-process wake-ups for code that waits on an endpoint (`awaitEndpointStatus`): this replica's
 * serverless loop and intent writes notify after they changed one. Changes other replicas make are
 * not seen here; waiters also read the store again every endpointWaitPollMs for them. Intents are
 * also told to the other replicas (`intent`), whose serverless loops then run a pass.
 */
export class EndpointSignal {
  readonly #publish: (endpointId: number) => void;
  readonly #wake: (endpointId: number) => Promise<void>;

  /**
   * `publish` tells the other replicas (the change feed's 'endpoint' topic); `wake` ends an endpoint's
   * rest in the store (claims pass a resting one by).
   */
  constructor(publish: (endpointId: number) => void = () => undefined, wake: (endpointId: number) => Promise<void> = () => Promise.resolve()) {
    this.#publish = publish;
    this.#wake = wake;
  }

  /** Notifications so far, per endpoint: a waiter that read the store at version v wakes at once when it moved. */
  readonly #versions = new Map<number, number>();
  readonly #waiters = new Map<number, Set<() => void>>();
  /** This replica's serverless loop, asked for a pass sooner than its periodic tick. */
  readonly #passListeners = new Set<(at: number | null) => void>();

  /** The serverless loop listens here; returns the unsubscribe. */
  onPassDue(listener: (at: number | null) => void): () => void {
    this.#passListeners.add(listener);
    return () => this.#passListeners.delete(listener);
  }

  /**
   * An endpoint needs a pass: now (null: an intent was written, a stop should not wait for the tick)
   * or at a clock time (a deadline the pass must act on when it falls, not at the next tick after it).
   */
  passDue(at: number | null = null): void {
    for (const l of this.#passListeners) l(at);
  }

  /** An intent on the endpoint was written (created, stopped, started, its workergroups changed): a pass now, here and elsewhere. */
  intent(endpointId: number): void {
    this.passDue();
    this.#publish(endpointId);
    // The endpoint may rest (stopped, or scaled to zero): its rest is ended in the store, and the passes are
    // asked for again once that is written. Twice because the first may have passed it by, resting, or
    // skipped its row while the wake's write held it (PostgreSQL's claims skip locked rows); whether it
    // rested is not read, and hearing an intent twice only repeats idempotent work. What they run is what
    // ran just now, so a failure is the caller's already; a wake not written (the database away) leaves
    // the rest to end at its time.
    this.#wake(endpointId)
      .then(() => {
        this.passDue();
        this.#publish(endpointId);
      })
      .catch(() => undefined);
  }

  /** The endpoint's deletion was recorded: told to the other replicas too (their gateways forget it), no pass asked for. */
  deleted(endpointId: number): void {
    this.#publish(endpointId);
  }

  version(endpointId: number): number {
    return this.#versions.get(endpointId) ?? 0;
  }

  notify(endpointId: number): void {
    this.#versions.set(endpointId, this.version(endpointId) + 1);
    const set = this.#waiters.get(endpointId);
    if (set === undefined) return;
    this.#waiters.delete(endpointId);
    for (const wake of set) wake();
  }

  /** The endpoint is gone: drop its version (a waiter still parked on it wakes at its next notification or poll). */
  forget(endpointId: number): void {
    if (!this.#waiters.has(endpointId)) this.#versions.delete(endpointId);
  }

  /** Resolves at the first notification after version `seen`, or after `ms`, whichever comes first. */
  wait(endpointId: number, seen: number, ms: number): Promise<void> {
    if (this.version(endpointId) !== seen) return Promise.resolve();
    return new Promise((resolve) => {
      let set = this.#waiters.get(endpointId);
      if (set === undefined) this.#waiters.set(endpointId, (set = new Set()));
      const waiters = set;
      const wake = (): void => {
        clearTimeout(timer);
        waiters.delete(wake);
        if (waiters.size === 0 && this.#waiters.get(endpointId) === waiters) this.#waiters.delete(endpointId);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      waiters.add(wake);
    });
  }
}
