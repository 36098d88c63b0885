import { BucketTable, burstFor, retryAfterSeconds } from '../../domain/account/token-bucket.js';

export interface Verdict {
  readonly ok: boolean;
  /** Whole seconds until a request would pass (Retry-After). */
  readonly retryAfter: number;
}

/** The limiter port: one token bucket per (key, family) at `rate` requests per second. */
export interface Limiter {
  take(bucket: string, rate: number, now: number): Promise<Verdict> | Verdict;
}

/** One replica's buckets in memory (SQLite: there is one replica). */
export class LocalLimiter implements Limiter {
  readonly #buckets: BucketTable;

  constructor(maxBuckets = 100_000) {
    this.#buckets = new BucketTable(maxBuckets);
  }

  take(bucket: string, rate: number, now: number): Verdict {
    return this.#buckets.take(bucket, rate, now);
  }
}

export type TakeShared = (bucket: string, want: number, rate: number, burst: number, now: number) => Promise<{ granted: number; left: number }>;

interface Reservoir {
  tokens: number;
  expires: number;
  fetching: Promise<void> | null;
  /** Tokens left in the shared bucket at the last fetch (for Retry-After). */
  left: number;
  lastGranted: number;
}

/**
 * Buckets shared by every replica on one PostgreSQL: a replica takes tokens from the bucket row in
 * small batches (a tenth of a second's worth) and spends them locally, so the database sees one
 * statement per batch, not per request. Leased tokens expire after `leaseMs`, so at most one batch per
 * replica is ever spent beyond the shared rate.
 */
export class SharedLimiter implements Limiter {
  readonly #take: TakeShared;
  readonly #leaseMs: number;
  readonly #local = new Map<string, Reservoir>();
  /** When reservoirs whose lease ran out were last forgotten (see #forget). */
  #forgotAt = -Infinity;

  constructor(takeShared: TakeShared, leaseMs = 1_000) {
    this.#take = takeShared;
    this.#leaseMs = leaseMs;
  }

  /** Reservoirs kept now (one per bucket used within about a lease). */
  get buckets(): number {
    return this.#local.size;
  }

  /**
   * Reservoirs whose lease ran out hold no token to spend: forgotten, once per lease at most. Kept, one per
   * caller address and key ever seen, they grew without bound (an IPv6 /64 is many addresses).
   */
  #forget(now: number): void {
    if (now - this.#forgotAt < this.#leaseMs) return;
    this.#forgotAt = now;
    for (const [k, r] of this.#local) if (r.fetching === null && r.expires <= now) this.#local.delete(k);
  }

  async take(bucket: string, rate: number, now: number): Promise<Verdict> {
    this.#forget(now);
    let r = this.#local.get(bucket);
    if (r === undefined) {
      r = { tokens: 0, expires: 0, fetching: null, left: 0, lastGranted: 1 };
      this.#local.set(bucket, r);
    }
    // Waiters share one fetch at a time; a fetch that found the shared bucket empty refuses them all.
    for (let attempt = 0; attempt < 64; attempt++) {
      if (r.tokens >= 1 && r.expires > now) {
        r.tokens -= 1;
        return { ok: true, retryAfter: 0 };
      }
      if (r.fetching === null) {
        const res = r;
        res.fetching = this.#take(bucket, Math.max(1, Math.floor(rate / 10)), rate, burstFor(rate), now)
          .then(({ granted, left }) => {
            res.tokens = granted;
            res.lastGranted = granted;
            res.left = left;
            res.expires = now + this.#leaseMs;
          })
          .finally(() => (res.fetching = null));
      }
      await r.fetching;
      if (r.lastGranted === 0) break;
    }
    return { ok: false, retryAfter: retryAfterSeconds({ tokens: r.left, at: now }, rate) };
  }
}
