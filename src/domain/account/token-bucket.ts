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

/**
 * Token buckets by name, in memory, at most `max` of them. A bucket not seen is a full one, so when the
 * table is full the least recently used is dropped: that only ever lets more through, never less.
 */
export class BucketTable {
  readonly #buckets = new Map<string, Bucket>();
  readonly #max: number;

  constructor(max = 100_000) {
    this.#max = max;
  }

  /** Take one token: `retryAfter` (whole seconds, 0 when granted) says when one would be there. */
  take(name: string, rate: number, now: number): { readonly ok: boolean; readonly retryAfter: number } {
    const burst = burstFor(rate);
    const r = take(this.#buckets.get(name) ?? { tokens: burst, at: now }, 1, rate, burst, now);
    this.#buckets.delete(name);
    if (this.#buckets.size >= this.#max) this.#buckets.delete(this.#buckets.keys().next().value as string);
    this.#buckets.set(name, r.bucket);
    return { ok: r.granted === 1, retryAfter: r.granted === 1 ? 0 : retryAfterSeconds(r.bucket, rate) };
  }

  has(name: string): boolean {
    return this.#buckets.has(name);
  }

  /** Whether a bucket exists and holds no whole token now (when one would, in whole seconds); takes nothing, makes no bucket. */
  spent(name: string, rate: number, now: number): number | null {
    const b = this.#buckets.get(name);
    if (b === undefined) return null;
    const r = refill(b, rate, burstFor(rate), now);
    return r.tokens < 1 ? retryAfterSeconds(r, rate) : null;
  }
}
