import { GantryError } from '../../domain/errors.js';

/**
 * Families of API calls that each draw from their own token bucket per key, so a burst of searches
 * does not starve instance changes. Each dialect assigns its routes to these (route config `family`).
 */
export const RATE_FAMILIES = ['account', 'billing', 'instances', 'machines', 'other', 'route', 'search', 'serverless'] as const;
export type RateFamily = (typeof RATE_FAMILIES)[number];

const isFamily = (s: string): s is RateFamily => (RATE_FAMILIES as readonly string[]).includes(s);

/**
 * Families whose default is a multiple of `rateLimit`: Vast's serverless clients ask `/route/` once per
 * request, and its Python SDK takes a 429 there as final, so 50 concurrent calls of one key failed
 * past a burst of 40. A rate set for the family in rateLimits wins.
 */
const DEFAULT_FACTORS: Partial<Record<RateFamily, number>> = { route: 10 };

/** The rate of each family with a default of its own, for a default rate (0: limits off, so none). */
export function defaultFamilyRates(defaultRate: number): Map<RateFamily, number> {
  return new Map(Object.entries(DEFAULT_FACTORS).map(([f, k]) => [f as RateFamily, defaultRate * (k ?? 1)]));
}

/** "search=5,instances=50" → per-family rates; INVALID_ARGUMENT names a bad entry. */
export function parseRates(text: string | null): Map<RateFamily, number> {
  const out = new Map<RateFamily, number>();
  if (text === null || text.trim() === '') return out;
  for (const part of text.split(',')) {
    const [name, value] = part.split('=').map((s) => s.trim());
    const n = Number(value);
    if (name === undefined || !isFamily(name) || value === undefined || value === '' || !Number.isFinite(n) || n < 0) {
      throw new GantryError('INVALID_ARGUMENT', `rateLimits: "${part}" is not family=rate (families: ${RATE_FAMILIES.join(', ')}).`);
    }
    out.set(name, n);
  }
  return out;
}
