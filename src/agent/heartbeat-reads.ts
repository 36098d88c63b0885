import type { UsageReport } from '../domain/machine/machine.js';
import type { Runtime, Usage } from '../runtime/runtime.js';
import { within } from './bounds.js';
import { observeAll } from './dispatch.js';

const LATE = Symbol('late');

/**
 * Reads of one key asked and not answered at most: one the engine lost is asked once more, and not a third
 * time while both stand (each is a request held open at the engine: asked again every `abandonMs`, they
 * piled up for as long as the engine stayed stuck).
 */
const MAX_ASKED = 2;

interface Kept<T> {
  readonly answer: Promise<T>;
  readonly at: number;
  settled: boolean;
}

/**
 * Reads for heartbeats that may outlast the wait for them (a container engine's stats take a while on a busy
 * host): each is asked once, a wait that gives up leaves it to the next wait, which takes its answer; and
 * one unanswered for `abandonMs` is asked again (the first may still answer for it). An answer that never
 * comes (a request the engine lost) so holds back only its own key, where one gathering for every key
 * waited on it for good. `read` must not reject.
 */
export class KeptReads<K, T> {
  readonly #reads = new Map<K, Kept<T>>();
  readonly #asked = new Map<K, number>();
  readonly #abandonMs: number;

  constructor(abandonMs: number) {
    this.#abandonMs = abandonMs;
  }

  /** `key`'s answer within `ms` (its read asked now, if none is kept), or `late`; an answer returned is no longer kept. */
  async take<L>(key: K, read: () => Promise<T>, ms: number, late: L): Promise<T | L> {
    let r = this.#reads.get(key);
    if (r === undefined) r = this.#keep(key, this.#ask(key, read));
    else if (!r.settled && performance.now() - r.at > this.#abandonMs && (this.#asked.get(key) ?? 0) < MAX_ASKED) {
      r = this.#keep(key, Promise.race([this.#ask(key, read), r.answer]));
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

  #ask(key: K, read: () => Promise<T>): Promise<T> {
    this.#asked.set(key, (this.#asked.get(key) ?? 0) + 1);
    const answer = read();
    const done = (): void => {
      const n = (this.#asked.get(key) ?? 1) - 1;
      if (n > 0) this.#asked.set(key, n);
      else this.#asked.delete(key);
    };
    answer.then(done, done);
    return answer;
  }

  #keep(key: K, answer: Promise<T>): Kept<T> {
    const kept: Kept<T> = { answer, at: performance.now(), settled: false };
    const settled = (): void => void (kept.settled = true);
    answer.then(settled, settled);
    this.#reads.set(key, kept);
    return kept;
  }
}

/** Usage reads under way at once: a host of many containers does not ask its engine for all their stats together. */
const USAGE_READS_AT_ONCE = 8;

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
    const got: (Usage | null)[] = [];
    let next = 0;
    const reader = async (): Promise<void> => {
      for (let i = next++; i < ids.length; i = next++) {
        const id = ids[i] as number;
        got[i] = await this.#reads.take(id, () => rt.usage(id).catch(() => null), left(), null);
      }
    };
    await Promise.all(Array.from({ length: Math.min(USAGE_READS_AT_ONCE, ids.length) }, reader));
    return ids.flatMap((instanceId, i) => {
      const u = got[i];
      return u == null ? [] : [{ instanceId, cpuUtil: u.cpuUtil, memUsageMb: u.memUsageMb, diskUsageMb: u.diskUsageMb }];
    });
  }
}

/** The runtime's listing of its workloads with their observations: for heartbeats, and the agent's checks between them. */
export class Listings {
  readonly #runtime: Runtime;
  readonly #readTimeoutMs: number;
  /** Listings asked and not answered yet. */
  #asked = 0;
  /** The listing a heartbeat asked for, and since when (performance.now()). */
  #forHeartbeat: { readonly answer: Promise<unknown[] | undefined>; readonly at: number } | null = null;

  constructor(runtime: Runtime, readTimeoutMs: number) {
    this.#runtime = runtime;
    this.#readTimeoutMs = readTimeoutMs;
  }

  /** A listing asked now; null while MAX_ASKED asked before still stand (an engine that lost them, as above). */
  #ask(): Promise<unknown[]> | null {
    if (this.#asked >= MAX_ASKED) return null;
    this.#asked++;
    const answer = observeAll(this.#runtime);
    const done = (): void => void this.#asked--;
    answer.then(done, done);
    return answer;
  }

  /**
   * For a heartbeat: the listing within `ms`, or none. A late one is not sent (it would be older than it says),
   * nor another asked meanwhile, unless the late one is older than readTimeoutMs (its answer may never come).
   */
  within(ms: number): Promise<unknown[] | undefined> {
    const last = this.#forHeartbeat;
    if (last !== null && performance.now() - last.at <= this.#readTimeoutMs) return Promise.resolve(undefined);
    const asked = this.#ask();
    if (asked === null) return Promise.resolve(undefined);
    const mine = { answer: asked.catch(() => undefined), at: performance.now() };
    this.#forHeartbeat = mine;
    void mine.answer.finally(() => {
      if (this.#forHeartbeat === mine) this.#forHeartbeat = null;
    });
    return within(mine.answer, ms, undefined);
  }

  /** For a check between heartbeats: the listing within readTimeoutMs, or null (none, or too many asked). Rejects as the runtime does. */
  checked(): Promise<unknown[] | null> {
    const asked = this.#ask();
    return asked === null ? Promise.resolve(null) : within(asked, this.#readTimeoutMs, null);
  }
}
