import { isGantryError } from '../domain/errors.js';
import type { ControlContext } from './context.js';

type Log = ControlContext['log'];

/** How often a failure that goes on is logged again (with how many times it failed meanwhile) unless told: failureLogRepeatMs's default. */
export const REPEAT_LOG_MS = 60_000;

/**
 * One repeated piece of a loop's work (a claim, a sweep, a pass) and its failures while their cause lasts.
 * With the database gone, a loop that runs every quarter of a second would otherwise write lines per second
 * for the length of the outage, and ask the database as often. The first failure is logged at error; repeats
 * once per `repeatMs` (failureLogRepeatMs, a minute), with their count; the first success after failures at
 * info ("works again"), so the log shows when the outage ended. After a failure the work waits (`due`) `minMs`
 * doubled for each failure in a row, up to `maxMs`.
 */
export class FailureLog {
  readonly #log: Log;
  readonly #what: string;
  readonly #clock: { now(): number };
  readonly #minMs: number;
  readonly #maxMs: number;
  readonly #repeatMs: number;
  /** Told of each failure that says the database is unavailable (ctx.databaseUnavailable). */
  readonly #onDatabaseUnavailable: (() => void) | undefined;
  /** Failures since the last success, and of those since the last line logged. */
  #failures = 0;
  #unlogged = 0;
  #loggedAt = 0;
  #retryAt = 0;

  /** A loop's timing from its context: its clock, failureLogRepeatMs and the bounds of the wait after a failure. */
  static timing(
    ctx: Pick<ControlContext, 'clock' | 'settings'> & Partial<Pick<ControlContext, 'databaseUnavailable'>>,
    wait: { minMs?: number; maxMs?: number } = {},
  ) {
    return { now: () => ctx.clock.now(), repeatMs: ctx.settings.failureLogRepeatMs, onDatabaseUnavailable: ctx.databaseUnavailable, ...wait };
  }

  /** `what` names the work: "claiming instances" logs "claiming instances failed", then "claiming instances works again". */
  constructor(
    log: Log,
    what: string,
    o: { now(): number; minMs?: number; maxMs?: number; repeatMs?: number; onDatabaseUnavailable?: (() => void) | undefined },
  ) {
    this.#onDatabaseUnavailable = o.onDatabaseUnavailable;
    this.#log = log;
    this.#what = what;
    this.#clock = o;
    this.#minMs = o.minMs ?? 0;
    this.#maxMs = o.maxMs ?? 0;
    this.#repeatMs = o.repeatMs ?? REPEAT_LOG_MS;
  }

  /** How many attempts in a row have failed. */
  get failures(): number {
    return this.#failures;
  }

  /** Whether the wait after the last failure is over (always, while the work succeeds). */
  due(): boolean {
    return this.#clock.now() >= this.#retryAt;
  }

  /** The wait after the last failure ends now: something says the cause is gone (the change feed is back). */
  retryNow(): void {
    this.#retryAt = 0;
  }

  /** The wait after the last failure, from now (0 while the work succeeds). */
  waitMs(): number {
    return Math.max(0, this.#retryAt - this.#clock.now());
  }

  /**
   * Run the work; its failure is logged as above, and gives `fallback`. `worked` says whether an outcome shows
   * the work's cause gone (a sweep with no host due asked the database nothing): else it changes nothing.
   */
  async run<T, F>(work: () => Promise<T>, fallback: F, worked: (out: T) => boolean = () => true): Promise<T | F> {
    try {
      const out = await work();
      if (worked(out)) this.succeeded();
      return out;
    } catch (err) {
      this.failed(err);
      return fallback;
    }
  }

  failed(err: unknown, fields: Record<string, unknown> = {}): void {
    if (isGantryError(err) && err.code === 'DATABASE_UNAVAILABLE') this.#onDatabaseUnavailable?.();
    this.#failures++;
    const now = this.#clock.now();
    this.#retryAt = now + Math.min(this.#maxMs, this.#minMs * 2 ** Math.min(this.#failures - 1, 20));
    if (this.#failures > 1 && now - this.#loggedAt < this.#repeatMs) {
      this.#unlogged++;
      return;
    }
    const repeated = this.#failures > 1 ? { failures: this.#failures, notLogged: this.#unlogged } : {};
    this.#log.error({ err, ...fields, ...repeated }, `${this.#what} failed${this.#failures > 1 ? ' (still)' : ''}`);
    this.#loggedAt = now;
    this.#unlogged = 0;
  }

  succeeded(): void {
    this.#retryAt = 0;
    if (this.#failures === 0) return;
    this.#log.info({ failures: this.#failures }, `${this.#what} works again`);
    this.#failures = 0;
    this.#unlogged = 0;
  }
}
