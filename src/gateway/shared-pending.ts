import type { EndpointTraffic, TrafficOptions } from './endpoint-traffic.js';

/** How often held-request counts are written while non-zero; a count older than PENDING_FRESH_MS (a dead replica) is ignored. */
const PUBLISH_MS = 500;
const PENDING_FRESH_MS = 5_000;
/** How often a replica writes that it is alive (its row for endpoint 0: endpoint ids start at 1). */
const PRESENCE_MS = 1_000;
export const PRESENCE_ROW = 0;

/**
 * What this replica's gateway shares through the store: how many requests it holds per endpoint (so a
 * drain on any replica waits for them), that it is alive, that it heard of an endpoint's stop (so a
 * drain ends its `closing` once every live gateway did, instead of after a fixed settle time), and
 * the counts of requests it answered and refused since a stop.
 */
export class SharedPending {
  readonly #o: TrafficOptions;
  readonly #eps: ReadonlyMap<number, EndpointTraffic>;
  /** Endpoints whose held-request count was non-zero at the last publish (a zero must follow once). */
  readonly #published = new Set<number>();
  readonly #counting = new Map<number, Promise<void>>();
  readonly #publisher: NodeJS.Timeout;
  #presentAt = -Infinity;

  constructor(o: TrafficOptions, eps: ReadonlyMap<number, EndpointTraffic>) {
    this.#o = o;
    this.#eps = eps;
    this.#publisher = setInterval(() => void this.#publish(), PUBLISH_MS);
    this.#publisher.unref();
    void this.#present();
  }

  async #present(): Promise<void> {
    const now = this.#o.now();
    if (now - this.#presentAt < PRESENCE_MS) return;
    this.#presentAt = now;
    await this.#o.shared.publish(PRESENCE_ROW, 0, now).catch(() => undefined);
  }

  /**
   * Count writes of one endpoint run one after another: a stop's flush must not find the counters
   * already zeroed by a publish whose write has not landed yet, and read the row too early.
   */
  count(id: number, t: EndpointTraffic): Promise<void> {
    const next = (this.#counting.get(id) ?? Promise.resolve()).then(() => this.#write(id, t));
    this.#counting.set(id, next);
    void next.finally(() => {
      if (this.#counting.get(id) === next) this.#counting.delete(id);
    });
    return next;
  }

  async #write(id: number, t: EndpointTraffic): Promise<void> {
    if (t.answered + t.refused === 0) return;
    const [answered, refused, rejected] = [t.answered, t.refused, t.rejected];
    t.answered = t.refused = t.rejected = 0;
    await this.#o.shared.counted(id, answered, refused, rejected).catch(() => {
      // Not written (the store was unreachable): keep them for the next publish instead of losing them.
      t.answered += answered;
      t.refused += refused;
      t.rejected += rejected;
    });
  }

  async #publish(): Promise<void> {
    await this.#present();
    const now = this.#o.now();
    for (const [id, t] of this.#eps) {
      const n = t.queue.length + t.inFlight.size;
      await this.count(id, t);
      if (n === 0 && !this.#published.has(id)) continue;
      if (n === 0) this.#published.delete(id);
      else this.#published.add(id);
      await this.#o.shared.publish(id, n, now).catch(() => undefined);
    }
  }

  /** The first request an endpoint holds here is published at once, not at the next tick: a drain elsewhere must see it. */
  held(endpointId: number): void {
    if (this.#published.has(endpointId)) return;
    this.#published.add(endpointId);
    const t = this.#eps.get(endpointId);
    void this.#o.shared.publish(endpointId, t === undefined ? 1 : Math.max(1, t.queue.length + t.inFlight.size), this.#o.now()).catch(() => undefined);
  }

  /**
   * This gateway knows the endpoint takes no new requests (it read the stop): publish what it holds
   * now, zero included, and tell the replicas (the one running the stop's pass ends `closing` once
   * every live gateway has done so).
   */
  async heard(endpointId: number): Promise<void> {
    const t = this.#eps.get(endpointId);
    const n = t === undefined ? 0 : t.queue.length + t.inFlight.size;
    if (t !== undefined) await this.count(endpointId, t);
    if (n > 0) this.#published.add(endpointId);
    else this.#published.delete(endpointId);
    await this.#o.shared.publish(endpointId, n, this.#o.now());
    this.#o.shared.heard?.(endpointId);
  }

  /** The endpoint's record was dropped (traffic.ts): nothing of it is published again. */
  forget(endpointId: number): void {
    this.#published.delete(endpointId);
  }

  elsewhere(endpointId: number): Promise<number> {
    return this.#o.shared.elsewhere(endpointId, this.#o.now() - PENDING_FRESH_MS);
  }

  /** Whether every live gateway (this one too) published what it holds of the endpoint at or after `since`. */
  settled(endpointId: number, since: number): Promise<boolean> {
    return this.#o.shared.settled?.(endpointId, this.#o.now() - PENDING_FRESH_MS, since) ?? Promise.resolve(false);
  }

  close(): void {
    clearInterval(this.#publisher);
  }
}
