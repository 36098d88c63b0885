import type { UsageReport } from '../domain/machine/machine.js';
import type { Runtime, Usage } from '../runtime/runtime.js';
import { within } from './bounds.js';

const LATE = Symbol('late');

/**
 * Reads for heartbeats that may outlast the wait for them (a container engine's stats take a while on a busy
 * host): each is asked once, a wait that gives up leaves it to the next wait, which takes its answer; and
 * one older than `abandonMs` is given up and asked again. An answer that never comes (a request the engine
 * lost) so holds back only its own key, and only that long, where one gathering for every key waited on it
 * for good. `read` must not reject.
 */
export class KeptReads<K, T> {
  readonly #reads = new Map<K, { readonly answer: Promise<T>; readonly at: number }>();
  readonly #abandonMs: number;

  constructor(abandonMs: number) {
    this.#abandonMs = abandonMs;
  }

  /** `key`'s answer within `ms` (its read asked now, if none is kept), or `late`; an answer returned is no longer kept. */
  async take<L>(key: K, read: () => Promise<T>, ms: number, late: L): Promise<T | L> {
    const now = performance.now();
    let r = this.#reads.get(key);
    if (r === undefined || now - r.at > this.#abandonMs) {
      r = { answer: read(), at: now };
      this.#reads.set(key, r);
    }
    const got = await within(r.answer, ms, LATE);
    if (got === LATE) return late;
    if (this.#reads.get(key) === r) this.#reads.delete(key);
    return got;
  }

  /** Forgets the reads of keys not in `keys` (instances gone). */
  keepOnly(keys: ReadonlySet<K>): void {
    for (const k of this.#reads.keys()) if (!keys.has(k)) this.#reads.delete(k);
  }
}

/** Each instance's usage for heartbeats, read from the runtime (its instances listed first), each read kept as above. */
export class UsageGathering {
  readonly #runtime: Runtime;
  readonly #lists: KeptReads<'ids', number[] | null>;
  readonly #reads: KeptReads<number, Usage | null>;

  constructor(runtime: Runtime, readTimeoutMs: number) {
    this.#runtime = runtime;
    this.#lists = new KeptReads(readTimeoutMs);
    this.#reads = new KeptReads(readTimeoutMs);
  }

  /** Usage gathered within `ms`: an instance whose read is still under way is left out, and its answer given by a later call. */
  async within(ms: number): Promise<UsageReport[]> {
    const until = performance.now() + ms;
    const left = (): number => Math.max(0, until - performance.now());
    const rt = this.#runtime;
    const ids = await this.#lists.take('ids', () => rt.list().catch(() => null), left(), null);
    if (ids === null) return [];
    this.#reads.keepOnly(new Set(ids));
    const got = await Promise.all(ids.map((id) => this.#reads.take(id, () => rt.usage(id).catch(() => null), left(), null)));
    return ids.flatMap((instanceId, i) => {
      const u = got[i];
      return u == null ? [] : [{ instanceId, cpuUtil: u.cpuUtil, memUsageMb: u.memUsageMb, diskUsageMb: u.diskUsageMb }];
    });
  }
}
