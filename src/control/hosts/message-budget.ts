import { GantryError } from '../../domain/errors.js';
import { BucketTable } from '../../domain/account/token-bucket.js';

/**
 * A token bucket per host token for the agent protocol. The edge's buckets are per API key or per
 * client address, and neither fits: agents carry host tokens, and many hosts may share one address.
 * Charged only after the token (hello) or the session (every other message) checked out, so only
 * real tokens get buckets, and those are bounded by what their accounts may hold. Kept per replica,
 * as sessions are: an agent speaks to the one replica that holds its session.
 */
export class MessageBudget {
  readonly #buckets: BucketTable;
  readonly #rate: () => number;

  /** `rate`: messages per second per token (0: unlimited), read at each charge so a setting's change applies. */
  constructor(rate: () => number, max = 100_000) {
    this.#rate = rate;
    this.#buckets = new BucketTable(max);
  }

  /** Charge one message to the token; RATE_LIMITED (with Retry-After) when its bucket is empty. */
  charge(tokenHash: string, now: number): void {
    const rate = this.#effectiveRate();
    if (rate === 0) return;
    const v = this.#buckets.take(tokenHash, rate, now);
    if (!v.ok) throw refusal(v.retryAfter, rate);
  }

  /**
   * Charge a hello refused for its token to the client address it came from: a token never valid has
   * no bucket, and each of its hellos costs a database read. Refusing still says the token is invalid.
   */
  chargeRefused(address: string, now: number): void {
    const rate = this.#effectiveRate();
    if (rate > 0) this.#buckets.take(addressKey(address), rate, now);
  }

  /**
   * RATE_LIMITED when the token has a bucket and it is empty now, or when it has none and its client
   * address has spent its bucket on refused hellos; takes nothing and makes no bucket.
   */
  refuseSpent(tokenHash: string | null, address: string, now: number): void {
    const rate = this.#effectiveRate();
    if (rate === 0) return;
    const known = tokenHash !== null && this.#buckets.has(tokenHash);
    const retryAfter = known ? this.#buckets.spent(tokenHash, rate, now) : this.#buckets.spent(addressKey(address), rate, now);
    if (retryAfter !== null) throw refusal(retryAfter, rate, known);
  }

  /**
   * 0: unlimited. A positive rate under 1 a second counts as 1: a slower one would make an agent wait
   * past the time its session stays open without a poll, and a limited host would drop off for good.
   */
  #effectiveRate(): number {
    const rate = this.#rate();
    return rate > 0 ? Math.max(1, rate) : 0;
  }
}

/** Token hashes are hex: an address's key cannot be taken for one. */
const addressKey = (address: string): string => `address:${address}`;

function refusal(retryAfter: number, rate: number, perToken = true): GantryError {
  const per = perToken ? 'for one host token' : 'with host tokens that are not valid, from one client address';
  return new GantryError('RATE_LIMITED', `Too many agent messages ${per}: at most ${rate} per second.`, { retryAfter, family: 'agent', rate });
}
