import type { Clock } from '../../src/control/clock.js';

/**
 * A clock that stands still until the test moves it, so time passes exactly where a test says so
 * (meters, listing end dates, maintenance windows) instead of in fixed sleeps. It starts at real
 * time, so dates in API answers stay plausible. Loops still pace themselves with real timers;
 * only their idea of "now" is this clock. Keep each step below the liveness windows a test runs
 * with (machineOfflineMs, the agent's poll window), or the embedded host counts as gone.
 */
export class ManualClock implements Clock {
  #nowMs: number;

  constructor(startMs: number = Date.now()) {
    this.#nowMs = startMs;
  }

  now(): number {
    return this.#nowMs;
  }

  advance(ms: number): void {
    if (!Number.isFinite(ms) || ms < 0) throw new RangeError(`a clock only moves forward; got ${ms} ms`);
    this.#nowMs += ms;
  }
}
