import { GantryError } from '../errors.js';

const UNIT_MS: Readonly<Record<string, number>> = { m: 60_000, h: 3_600_000, d: 86_400_000 };
/** AI Core's ttl pattern: a whole number of minutes, hours or days (`10m`, `24H`, `2d`). */
const TTL = /^([0-9]+)([mhd])$/i;
/** The longest ttl a deployment may have; `/v2/lm/meta` advertises it. */
export const MAX_TTL_MS = 366 * 86_400_000;

/** A deployment's time to live in ms; INVALID_ARGUMENT for anything else or for less than `minimumMs`. */
export function parseTtl(text: string, minimumMs: number): number {
  const m = TTL.exec(text);
  if (m === null)
    throw new GantryError('INVALID_ARGUMENT', `'ttl' must be a number followed by m, h or d (e.g. "10m", "24H", "2d"); got ${JSON.stringify(text)}.`, {
      field: 'ttl',
    });
  const ms = Number(m[1]) * (UNIT_MS[(m[2] as string).toLowerCase()] as number);
  if (ms < minimumMs || ms > MAX_TTL_MS) {
    throw new GantryError('INVALID_ARGUMENT', `'ttl' must be between ${Math.round(minimumMs / 60_000)}m and 366d; got ${JSON.stringify(text)}.`, {
      field: 'ttl',
    });
  }
  return ms;
}
