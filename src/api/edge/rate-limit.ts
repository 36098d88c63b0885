import type { FastifyRequest } from 'fastify';
import { GantryError } from '../../domain/errors.js';
import { hashKey } from '../../control/keys.js';
import type { RateFamily } from '../rate-limit/families.js';
import type { Limiter } from '../rate-limit/limiter.js';
import { clientGroup } from '../../domain/client-group.js';

export interface RateLimitOptions {
  readonly limiter: Limiter;
  /** Requests per second per key and family; 0 disables. */
  readonly defaultRate: number;
  readonly familyRates: ReadonlyMap<RateFamily, number>;
  readonly now: () => number;
  /** How many credentials seen valid are remembered (their own buckets); default 100,000. */
  readonly knownCredentials?: number;
  /** An IPv6 client without a proven key counts by this many leading bits of its address (default 64). */
  readonly ipv6ClientPrefixBits?: number;
}

/** What the edge tells the limiter after authentication, so that only proven keys get buckets of their own. */
export interface EdgeRateLimit {
  readonly onRequest: (req: FastifyRequest) => Promise<void>;
  /** The request's credential authenticated: from now on it draws from its own bucket. */
  readonly passed: (req: FastifyRequest) => void;
  /** The request's credential was refused: it draws from its address's bucket again. */
  readonly failed: (req: FastifyRequest) => void;
}

/**
 * Credentials (hashed) that authenticated on this replica, oldest first. Bounded: a forgotten one is
 * charged to its address until it authenticates again. Only the choice of bucket depends on this;
 * every request is still authenticated, so a revoked key stops working at once.
 */
class KnownCredentials {
  readonly #seen = new Set<string>();
  readonly #max: number;

  constructor(max: number) {
    this.#max = max;
  }

  has(h: string): boolean {
    return this.#seen.has(h);
  }

  add(h: string): void {
    this.#seen.delete(h);
    if (this.#seen.size >= this.#max) this.#seen.delete(this.#seen.values().next().value as string);
    this.#seen.add(h);
  }

  delete(h: string): void {
    this.#seen.delete(h);
  }
}

/** One memory per app (every dialect mounts with the same options), so a key proven on one dialect counts on all. */
const KNOWN = new WeakMap<RateLimitOptions, KnownCredentials>();

/**
 * Token buckets per route family, charged in an onRequest hook, before authentication. A credential
 * that has authenticated before draws from its own bucket; a request without one, or with one not
 * (yet) proven valid, draws from its client address's bucket. So guessing keys, or sending a fresh
 * random key each time, is limited per address like one key, and cannot buy a fresh burst per key,
 * while a real key is not throttled by others on its address. Over the limit: RATE_LIMITED, which each
 * dialect renders (Vast: 429 with `detail`; every dialect: Retry-After).
 */
export function rateLimitHook(o: RateLimitOptions, credential: (req: FastifyRequest) => string | null): EdgeRateLimit {
  let known = KNOWN.get(o);
  if (known === undefined) {
    known = new KnownCredentials(o.knownCredentials ?? 100_000);
    KNOWN.set(o, known);
  }
  const memory = known;
  const hashOf = (req: FastifyRequest): string | null => {
    const key = credential(req);
    return key !== null && key !== '' ? hashKey(key).slice(0, 32) : null;
  };
  return {
    onRequest: async (req) => {
      const family = req.routeOptions.config.edge?.family ?? null;
      if (family === null) return;
      const rate = o.familyRates.get(family) ?? o.defaultRate;
      if (rate <= 0) return;
      const h = hashOf(req);
      const proven = h !== null && memory.has(h);
      const v = await o.limiter.take(`${proven ? h : `ip:${clientGroup(req.ip, o.ipv6ClientPrefixBits)}`}:${family}`, rate, o.now());
      if (!v.ok) {
        const per = proven ? 'for one key' : 'for one client address without a proven key';
        throw new GantryError('RATE_LIMITED', `Too many requests of the ${family} family: at most ${rate} per second ${per}.`, {
          retryAfter: v.retryAfter,
          family,
          rate,
        });
      }
    },
    passed: (req) => {
      const h = hashOf(req);
      if (h !== null) memory.add(h);
    },
    failed: (req) => {
      const h = hashOf(req);
      if (h !== null) memory.delete(h);
    },
  };
}
