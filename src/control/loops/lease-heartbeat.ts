import type { ControlContext } from '../context.js';
import { FailureLog } from '../failure-log.js';

// Separate from the reconciler, whose file is at its size limit: the timer that keeps its leases from lapsing, and that timer's failures.

/**
 * Extends the leases of the rows a reconciler works on, every third of `leaseMs`, so they do not lapse while
 * a slow step runs. Its failures (the database gone) are a `FailureLog`'s: logged once, then once a minute
 * with their count, then "works again", not a line per beat; no wait after them, since a lease must be
 * extended again as soon as the database answers. A beat with no row in work asks nothing and proves nothing.
 */
export class LeaseHeartbeat {
  readonly #ctx: Pick<ControlContext, 'store' | 'clock' | 'settings'>;
  readonly #owner: string;
  readonly #ids: () => number[];
  readonly #failures: FailureLog;
  #timer: NodeJS.Timeout | null = null;

  /** `ids`: the rows in work now, read at each beat. */
  constructor(ctx: Pick<ControlContext, 'store' | 'clock' | 'settings'>, log: ControlContext['log'], owner: string, ids: () => number[]) {
    this.#ctx = ctx;
    this.#owner = owner;
    this.#ids = ids;
    this.#failures = new FailureLog(log, 'renewing leases', FailureLog.timing(ctx));
  }

  /** Beat every third of `leaseMs` (every 50 ms at least); `tick`: anything else due as often (the reconciler's summary). */
  start(tick: () => void = () => undefined): void {
    if (this.#timer !== null) return;
    const periodMs = Math.max(50, Math.floor(this.#ctx.settings.leaseMs / 3));
    this.#timer = setInterval(() => {
      void this.beat();
      tick();
    }, periodMs);
  }

  stop(): void {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
  }

  /** One extension of every lease in work; never rejects. */
  async beat(): Promise<void> {
    const ids = this.#ids();
    if (ids.length === 0) return;
    await this.#failures.run(() => this.#ctx.store.extendLeases(this.#owner, ids, this.#ctx.clock.now() + this.#ctx.settings.leaseMs), undefined);
  }
}
