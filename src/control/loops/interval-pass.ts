/**
 * A pass run every `intervalMs`, never two at once (a pass still running when the next tick comes
 * skips that tick), not keeping the process alive; `stop` waits for the pass in progress. For the
 * loops that only need a timer (billing, sampling); the reconciler and the serverless loop are woken
 * by changes too and keep their own scheduling.
 */
export class IntervalPass {
  readonly #intervalMs: number;
  readonly #pass: () => Promise<void>;
  #timer: NodeJS.Timeout | null = null;
  #running: Promise<void> | null = null;

  constructor(intervalMs: number, pass: () => Promise<void>) {
    this.#intervalMs = intervalMs;
    this.#pass = pass;
  }

  start(): void {
    if (this.#timer !== null) return;
    this.#timer = setInterval(() => {
      if (this.#running === null) this.#running = this.#pass().finally(() => (this.#running = null));
    }, this.#intervalMs);
    this.#timer.unref();
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#running;
  }
}
