import { GantryError } from '../../../domain/errors.js';
import type { Query } from './query.js';

const UNITS: Readonly<Record<string, number>> = { nanos: 1e-6, micros: 1e-3, ms: 1, s: 1000, m: 60_000, h: 3_600_000, d: 86_400_000 };

/** Elasticsearch's time values (`500ms`, `30s`, `1m`, `0`, `-1` for none): ms, or `dflt` when absent; `-1` is the bound Gantry allows. */
export function durationParam(q: Query, name: string, dflt: number, max = 10 * 60_000): number {
  const raw = q[name];
  if (raw === undefined) return dflt;
  const v = (typeof raw === 'string' ? raw : JSON.stringify(raw)).trim();
  if (v === '-1') return max;
  if (v === '0') return 0; // as Elasticsearch's parser: the one number that needs no unit
  const m = /^(\d+(?:\.\d+)?)(nanos|micros|ms|s|m|h|d)$/.exec(v);
  if (m === null) {
    throw new GantryError('INVALID_ARGUMENT', `failed to parse setting [${name}] with value [${v}] as a time value: unit is missing or unrecognized`, {
      field: name,
    });
  }
  return Math.min(max, Math.round(Number(m[1]) * (UNITS[m[2] as string] as number)));
}
