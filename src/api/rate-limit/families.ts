import { GantryError } from '../../domain/errors.js';

/**
 * Families of API calls that each draw from their own token bucket per key, so a burst of searches
 * does not starve instance changes. Each dialect assigns its routes to these (route config `family`).
 */
export const RATE_FAMILIES = ['account', 'billing', 'instances', 'machines', 'other', 'route', 'search', 'serverless'] as const;
export type RateFamily = (typeof RATE_FAMILIES)[number];

const isFamily = (s: string): s is RateFamily => (RATE_FAMILIES as readonly string[]).includes(s);

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
