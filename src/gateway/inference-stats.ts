import type { InferenceCounters } from '../control/serverless/traffic-gate.js';

/** How a request sent to a worker ended, for the counters. */
export type RequestOutcome = { readonly kind: 'answered'; readonly ms: number } | { readonly kind: 'error' } | { readonly kind: 'timeout' };

const WINDOW_S = 60;

/**
 * One set of counters (an endpoint's, or one worker's): totals, plus per-second buckets of the last
 * minute for its averages and throughput. Bounded memory: at most 60 buckets whatever the load.
 */
export class Tally {
  #answered = 0;
  #errors = 0;
  #rejected = 0;
  #timeouts = 0;
  #totalMs = 0;
  #peak = 0;
  #lastAccess: number | null = null;
  #startTime: number | null = null;
  /** Epoch second → answered requests and their summed time. */
  readonly #seconds = new Map<number, { n: number; ms: number }>();
  /** The sums of the buckets in the window, as of the last prune plus what ended since. */
  #minute = { n: 0, ms: 0 };
  #prunedAt = -1;

  constructor(readonly now: () => number) {}

  #touch(): number {
    const now = this.now();
    this.#startTime ??= now;
    this.#lastAccess = now;
    return now;
  }

  /** When a request last arrived or ended here (null: none yet). */
  get lastAccess(): number | null {
    return this.#lastAccess;
  }

  /** A request arrived (the endpoint's tally) or was sent to the worker (a worker's). */
  seen(): void {
    this.#touch();
  }

  ended(o: RequestOutcome): void {
    const now = this.#touch();
    if (o.kind === 'error') this.#errors++;
    else if (o.kind === 'timeout') this.#timeouts++;
    else {
      this.#answered++;
      this.#totalMs += o.ms;
      const sec = Math.floor(now / 1000);
      if (sec !== this.#prunedAt) this.#prune(sec);
      let b = this.#seconds.get(sec);
      if (b === undefined) this.#seconds.set(sec, (b = { n: 0, ms: 0 }));
      b.n++;
      b.ms += o.ms;
      this.#minute.n++;
      this.#minute.ms += o.ms;
      if (this.#minute.n > this.#peak) this.#peak = this.#minute.n;
    }
  }

  rejected(): void {
    this.#touch();
    this.#rejected++;
  }

  timedOut(): void {
    this.ended({ kind: 'timeout' });
  }

  /** Drops the buckets out of the window and sums the rest (once a second: `ended` keeps the sum between). */
  #prune(sec: number): void {
    this.#prunedAt = sec;
    let n = 0;
    let ms = 0;
    for (const [s, b] of this.#seconds) {
      if (s <= sec - WINDOW_S) this.#seconds.delete(s);
      else {
        n += b.n;
        ms += b.ms;
      }
    }
    this.#minute = { n, ms };
  }

  counters(pending: number): InferenceCounters {
    this.#prune(Math.floor(this.now() / 1000));
    const last = this.#minute;
    return {
      inferenceCount: this.#answered,
      errorCount: this.#errors,
      rejectedExecutionCount: this.#rejected,
      timeoutCount: this.#timeouts,
      pendingRequests: pending,
      averageInferenceTimeMs: this.#answered === 0 ? 0 : this.#totalMs / this.#answered,
      averageInferenceTimeMsLastMinute: last.n === 0 ? 0 : last.ms / last.n,
      throughputLastMinute: last.n,
      peakThroughputPerMinute: this.#peak,
      lastAccess: this.#lastAccess,
      startTime: this.#startTime,
    };
  }
}
