import type { Store } from '../../store/store.js';
import type { InstanceView } from './read-instances.js';

interface Entry {
  readonly at: number;
  readonly views: Promise<readonly InstanceView[]>;
}

/**
 * This replica's memory of each account's instance listing (the read clients poll most), so a listing
 * costs no store read while nothing it shows changed (docs/decisions/019-listing-memory.md).
 *
 * Dropped on change, not by age: any write this process makes to what a listing shows (WriteWatch in
 * the store hears the statement, and its commit), and any instance or machine change the feed brings
 * from another replica, clears every account's listing. Two things are bounded by age instead
 * (`maxAgeMs`, the machine list's own bound): the usage figures, measurements the agents send with each
 * heartbeat rather than changes anyone publishes, and another replica's writes the feed does not carry
 * (a status message), which show here within that time.
 *
 * The promise is remembered when the read starts, so an invalidation during the read drops it too and
 * the next caller reads again. Bounded by accounts: the oldest entry goes first.
 */
export class InstanceViewCache {
  readonly #entries = new Map<number, Entry>();
  readonly #build: (accountId: number) => Promise<readonly InstanceView[]>;
  readonly #now: () => number;
  readonly #maxAgeMs: number;
  readonly #maxEntries: number;

  constructor(o: {
    readonly build: (accountId: number) => Promise<readonly InstanceView[]>;
    readonly now: () => number;
    readonly maxAgeMs: number;
    readonly maxEntries: number;
  }) {
    this.#build = o.build;
    this.#now = o.now;
    this.#maxAgeMs = o.maxAgeMs;
    this.#maxEntries = o.maxEntries;
  }

  /** Follow the store's writes and the feed's instance and machine changes; returns the function that stops. */
  follow(store: Pick<Store, 'onShownInstancesWrite' | 'changes'>): () => void {
    const clear = (): void => this.clear();
    const stops = [
      store.onShownInstancesWrite(clear),
      store.changes.subscribe('instance', clear),
      store.changes.subscribe('instance-status', clear),
      store.changes.subscribe('machine', clear),
    ];
    return () => stops.forEach((s) => s());
  }

  /** The account's listing; the same array until something in it may have changed (callers must not change it). */
  get(accountId: number): Promise<readonly InstanceView[]> {
    const now = this.#now();
    const hit = this.#entries.get(accountId);
    if (hit !== undefined && now - hit.at < this.#maxAgeMs) return hit.views;
    if (this.#maxAgeMs <= 0) return this.#build(accountId);
    this.#entries.delete(accountId);
    if (this.#entries.size >= this.#maxEntries) this.#entries.delete(this.#entries.keys().next().value as number);
    const views = this.#build(accountId);
    const entry = { at: now, views };
    this.#entries.set(accountId, entry);
    // A failed read must not stay remembered.
    views.catch(() => {
      if (this.#entries.get(accountId) === entry) this.#entries.delete(accountId);
    });
    return views;
  }

  clear(): void {
    this.#entries.clear();
  }
}
