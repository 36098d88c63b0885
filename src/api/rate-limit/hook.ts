import type { FastifyRequest } from 'fastify';
import { thresholdText } from '../../domain/account/token-bucket.js';
import { GantryError } from '../../domain/errors.js';
import { hashKey } from '../../control/keys.js';
import { apiKeyOf } from '../auth/api-key.js';
import { familyOf } from './families.js';
import type { Limiter } from './limiter.js';

export interface RateLimitOptions {
  readonly limiter: Limiter;
  /** Requests per second per key and family; 0 disables. */
  readonly defaultRate: number;
  readonly familyRates: ReadonlyMap<string, number>;
  readonly now: () => number;
}

/**
 * An onRequest hook: one bucket per API key (hashed; the client address when there is none) and
 * endpoint family. It runs before authentication, so guessing keys is limited too. Over the limit:
 * RATE_LIMITED, which each dialect renders (Vast: 429 with `detail` and Retry-After).
 */
export function rateLimitHook(o: RateLimitOptions): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const family = familyOf(req.url);
    if (family === null) return;
    const rate = o.familyRates.get(family) ?? o.defaultRate;
    if (rate <= 0) return;
    const key = apiKeyOf(req);
    const who = key !== null ? hashKey(key).slice(0, 32) : `ip:${req.ip}`;
    const v = await o.limiter.take(`${who}:${family}`, rate, o.now());
    if (!v.ok) {
      throw new GantryError('RATE_LIMITED', `API requests too frequent endpoint threshold=${thresholdText(rate)}`, {
        retryAfter: v.retryAfter,
        family,
      });
    }
  };
}
