import type { FastifyRequest } from 'fastify';
import { GantryError } from '../../domain/errors.js';
import { hashKey } from '../../control/keys.js';
import type { RateFamily } from '../rate-limit/families.js';
import type { Limiter } from '../rate-limit/limiter.js';

export interface RateLimitOptions {
  readonly limiter: Limiter;
  /** Requests per second per key and family; 0 disables. */
  readonly defaultRate: number;
  readonly familyRates: ReadonlyMap<RateFamily, number>;
  readonly now: () => number;
}

/**
 * An onRequest hook: one bucket per credential (hashed; the client address when there is none) and
 * the route's family. It runs before authentication, so guessing keys is limited too. Over the
 * limit: RATE_LIMITED, which each dialect renders (Vast: 429 with `detail`; every dialect: Retry-After).
 */
export function rateLimitHook(o: RateLimitOptions, credential: (req: FastifyRequest) => string | null): (req: FastifyRequest) => Promise<void> {
  return async (req) => {
    const family = req.routeOptions.config.edge?.family ?? null;
    if (family === null) return;
    const rate = o.familyRates.get(family) ?? o.defaultRate;
    if (rate <= 0) return;
    const key = credential(req);
    const who = key !== null ? hashKey(key).slice(0, 32) : `ip:${req.ip}`;
    const v = await o.limiter.take(`${who}:${family}`, rate, o.now());
    if (!v.ok) {
      throw new GantryError('RATE_LIMITED', `Too many requests of the ${family} family: at most ${rate} per second for one key.`, {
        retryAfter: v.retryAfter,
        family,
        rate,
      });
    }
  };
}
