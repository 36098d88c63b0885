/** Injected time, so loops and tests agree on "now" without fake timers. */
export interface Clock {
  now(): number;
}
export const systemClock: Clock = { now: () => Date.now() };
