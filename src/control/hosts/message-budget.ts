import { GantryError } from '../../domain/errors.js';
import { burstFor, retryAfterSeconds, take, type Bucket } from '../../domain/account/token-bucket.js';

/**
 * A token bucket per host token for the agent protocol. The edge's buckets are per API key or per
 * client address, and neither fits: agents carry host tokens, and many hosts may share one address.
 * Charged only after the token (hello) or the session (every other message) checked out, so only
 * real tokens get buckets, and those are bounded by what their accounts may hold. Kept per replica,
 * as sessions are: an agent speaks to the one replica that holds its session.
 */
export class MessageBudget {
  readonly #buckets = new Map<string, Bucket>();
  readonly #rate: () => number;
  readonly #max: number;

  /** `rate`: messages per second per token (0: unlimited), read at each charge so a setting's change applies. */
  constructor(rate: () => number, max = 100_000) {
    this.#rate = rate;
    this.#max = max;
  }

  /** Charge one message to the token; RATE_LIMITED (with Retry-After) when its bucket is empty. */
  charge(tokenHash: string, now: number): void {
    const rate = this.#rate();
    if (rate <= 0) return;
    const burst = burstFor(rate);
    const r = take(this.#buckets.get(tokenHash) ?? { tokens: burst, at: now }, 1, rate, burst, now);
    // Oldest first out when full: a forgotten bucket is a full one, so this only ever lets more through.
    this.#buckets.delete(tokenHash);
    if (this.#buckets.size >= this.#max) this.#buckets.delete(this.#buckets.keys().next().value as string);
    this.#buckets.set(tokenHash, r.bucket);
    if (r.granted === 1) return;
    const retryAfter = retryAfterSeconds(r.bucket, rate);
    throw new GantryError('RATE_LIMITED', `Too many agent messages for one host token: at most ${rate} per second.`, { retryAfter, family: 'agent', rate });
  }
}
