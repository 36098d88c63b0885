/**
 * A pass run every `intervalMs`, never two at once (a pass still running when the next tick comes
 * skips that tick, and one asked for with `runNow` waits for it), not keeping the process alive; `stop`
 * waits for the pass in progress. With a `restFactor`, ticks are also skipped until that many times the
 * last pass's duration has passed since it ended: a pass that outgrew its interval takes a bounded share
 * of the time, not all of it. For the loops that only need a timer (billing, sampling); the reconciler
 * and the serverless loop are woken by changes too and keep their own scheduling.
 */
export class IntervalPass {
  readonly #intervalMs: number;
  readonly #pass: () => Promise<void>;
  readonly #restFactor: number;
  #timer: NodeJS.Timeout | null = null;
  /** The pass in progress, or the last one: each pass begins after the one before it settled. */
  #last: Promise<void> = Promise.resolve();
  /** Passes begun or waiting to begin. */
  #queued = 0;
  /** performance.now() before which ticks are skipped (the rest after the last pass). */
  #restUntil = 0;

  constructor(intervalMs: number, pass: () => Promise<void>, restFactor = 0) {
    this.#intervalMs = intervalMs;
    this.#pass = pass;
    this.#restFactor = restFactor;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      if (this.#queued > 0 || performance.now() < this.#restUntil) return;
      void this.runNow();
    }, this.#intervalMs);
    this.#timer.unref();
  }

  /**
   * One pass now, after the one in progress (if any) ended: a pass asked for by hand (a test, an
   * operator) never overlaps the loop's own, so it sees everything that pass wrote.
   */
  runNow(): Promise<void> {
    this.#queued++;
    const next = this.#last.then(async () => {
      const began = performance.now();
      try {
        await this.#pass();
      } finally {
        const ended = performance.now();
        this.#restUntil = ended + (ended - began) * this.#restFactor;
        this.#queued--;
      }
    });
    this.#last = next.catch(() => undefined);
    return next;
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#last;
  }
}
