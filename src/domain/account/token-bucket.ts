/**
 * A token bucket as plain numbers, so the in-memory limiter and the store's shared buckets compute
 * alike: `rate` tokens a second refill up to `burst`; a request takes one.
 */
export interface Bucket {
  readonly tokens: number;
  readonly at: number;
}

export function refill(b: Bucket, rate: number, burst: number, now: number): Bucket {
  const elapsed = Math.max(0, now - b.at) / 1000;
  return { tokens: Math.min(burst, b.tokens + elapsed * rate), at: Math.max(b.at, now) };
}

/** Take up to `want` whole tokens; returns the tokens granted and the bucket after. */
export function take(b: Bucket, want: number, rate: number, burst: number, now: number): { granted: number; bucket: Bucket } {
  const r = refill(b, rate, burst, now);
  const granted = Math.max(0, Math.min(want, Math.floor(r.tokens)));
  return { granted, bucket: { tokens: r.tokens - granted, at: r.at } };
}

/** Whole seconds until one token is back (Retry-After), at least 1. */
export function retryAfterSeconds(b: Bucket, rate: number): number {
  if (rate <= 0) return 1;
  return Math.max(1, Math.ceil((1 - b.tokens) / rate));
}

/** Burst allowed for a rate: two seconds' worth, and at least one request. */
export function burstFor(rate: number): number {
  return Math.max(1, rate * 2);
}
