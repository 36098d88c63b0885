import { GantryError } from '../../../domain/errors.js';

/** ByteSizeUnit: bytes per unit and the suffix Elasticsearch writes. */
const UNITS: readonly (readonly [string, bigint, string])[] = [
  ['k', 1n << 10n, 'kb'],
  ['kb', 1n << 10n, 'kb'],
  ['m', 1n << 20n, 'mb'],
  ['mb', 1n << 20n, 'mb'],
  ['g', 1n << 30n, 'gb'],
  ['gb', 1n << 30n, 'gb'],
  ['t', 1n << 40n, 'tb'],
  ['tb', 1n << 40n, 'tb'],
  ['p', 1n << 50n, 'pb'],
  ['pb', 1n << 50n, 'pb'],
];
const LONG_MAX = (1n << 63n) - 1n;

function parseError(reason: string, field: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', reason, { field, esType: 'parse_exception' });
}

/**
 * Elasticsearch's ByteSizeValue.parseBytesSizeValue (`10mb`, `1.5gb`, `512b`, `0`, `-1`): the value as
 * Elasticsearch writes it back (getStringRep: whole units in the unit given, else bytes), or a 400
 * parse_exception in its words ("failed to parse setting [cache_size] with value [abc] as a size in
 * bytes: unit is missing or unrecognized").
 */
export function parseByteSize(value: string, field: string): { bytes: bigint; rep: string } {
  if (value === '0' || value === '0b' || value === '0B') return { bytes: 0n, rep: '0' };
  if (value === '1b' || value === '1B') return { bytes: 1n, rep: '1b' };
  if (value === '-1' || value === '-1b' || value === '-1B') return { bytes: -1n, rep: '-1' };
  const lower = value.toLowerCase().trim();
  const bad = (): GantryError => parseError(`failed to parse setting [${field}] with value [${value}]`, field);
  const notBytes = (): GantryError => parseError(`failed to parse setting [${field}] with value [${value}] as a size in bytes`, field);
  // The first suffix that fits, in Elasticsearch's order: `k` before `kb`, a bare `b` last.
  const unit = UNITS.find(([s]) => lower.endsWith(s));
  if (unit === undefined) {
    if (!lower.endsWith('b'))
      throw parseError(`failed to parse setting [${field}] with value [${value}] as a size in bytes: unit is missing or unrecognized`, field);
    const n = lower.slice(0, -1).trim();
    if (!/^[+-]?\d+$/.test(n)) throw bad();
    const bytes = BigInt(n);
    if (bytes > LONG_MAX) throw bad();
    if (bytes < -1n) throw notBytes();
    return { bytes, rep: bytes <= 0n ? String(bytes) : `${bytes}b` };
  }
  const [suffix, per, name] = unit;
  const n = lower.slice(0, -suffix.length).trim();
  if (/^[+-]?\d+$/.test(n) && BigInt(n) <= LONG_MAX) {
    const units = BigInt(n);
    if (units < 0n || units > LONG_MAX / per) throw notBytes();
    const bytes = units * per;
    return { bytes, rep: bytes === 0n ? '0' : `${units}${name}` };
  }
  // Not a long: a decimal of at most two places, rounded up to whole bytes.
  const m = /^\+?(\d*)(?:\.(\d*))?$/.exec(n);
  if (m === null || `${m[1] ?? ''}${m[2] ?? ''}` === '') throw bad();
  const frac = m[2] ?? '';
  if (frac.length > 2) throw parseError(`failed to parse setting [${field}] with more than two decimals in value [${value}]`, field);
  const scale = 10n ** BigInt(frac.length);
  const scaled = BigInt(`${m[1] === '' ? '0' : m[1]}${frac}`) * per;
  const bytes = (scaled + scale - 1n) / scale;
  if (bytes > LONG_MAX) throw parseError(`failed to parse setting [${field}] with value beyond ${LONG_MAX}: [${value}]`, field);
  return { bytes, rep: bytes === 0n ? '0' : bytes % per === 0n ? `${bytes / per}${name}` : `${bytes}b` };
}
