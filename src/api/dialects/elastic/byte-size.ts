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
  // Not a long: a decimal (Java's BigDecimal, exponents included: `1e3kb`, `1.5E-2mb`) of at most two
  // places, rounded up to whole bytes.
  const m = /^([+-]?)(\d*)(?:\.(\d*))?(?:e([+-]?\d+))?$/.exec(n);
  const whole = m?.[2] ?? '';
  const frac = m?.[3] ?? '';
  if (m === null || `${whole}${frac}` === '') throw bad();
  const digits = BigInt(`${whole}${frac}`);
  const exponent = m[4] === undefined ? 0 : Number(m[4]);
  // BigDecimal's exponent is an int: past it the text is no number at all.
  if (!Number.isSafeInteger(exponent) || Math.abs(exponent) > 2 ** 31 - 1) throw bad();
  // BigDecimal's scale: the places after the point, less the exponent.
  const scale = frac.length - exponent;
  if (m[1] === '-' && digits !== 0n) throw bad();
  if (scale > 2) throw parseError(`failed to parse setting [${field}] with more than two decimals in value [${value}]`, field);
  const beyond = (): GantryError => parseError(`failed to parse setting [${field}] with value beyond ${LONG_MAX}: [${value}]`, field);
  // Past 10^40 any non-zero number of units is beyond a long: no need to build the power.
  if (digits === 0n) return { bytes: 0n, rep: '0' };
  if (scale < -40) throw beyond();
  const bytes = scale >= 0 ? (digits * per + 10n ** BigInt(scale) - 1n) / 10n ** BigInt(scale) : digits * 10n ** BigInt(-scale) * per;
  if (bytes > LONG_MAX) throw beyond();
  return { bytes, rep: bytes === 0n ? '0' : bytes % per === 0n ? `${bytes / per}${name}` : `${bytes}b` };
}

/** Whole bytes per unit and the suffix, largest first, for printing. */
const PRINT_UNITS: readonly (readonly [bigint, string])[] = [
  [1n << 50n, 'pb'],
  [1n << 40n, 'tb'],
  [1n << 30n, 'gb'],
  [1n << 20n, 'mb'],
  [1n << 10n, 'kb'],
];

/**
 * ByteSizeValue.toString, what Elasticsearch's `_stats` shows (its toXContent): the largest unit the
 * value reaches, with at most one decimal, truncated (Strings.format1Decimals): 1536 bytes is `1.5kb`,
 * 1630 bytes `1.5kb`, 10 MiB `10mb`, 0 `0b`. The quotients here never reach the 10^7 where Java's
 * Double.toString would switch to an exponent.
 */
export function printByteSize(bytes: bigint): string {
  const unit = PRINT_UNITS.find(([per]) => bytes >= per);
  if (unit === undefined) return `${bytes}b`;
  const [per, suffix] = unit;
  // In doubles, as Java divides (getKbFrac …): past 2^53 bytes the quotient rounds as Elasticsearch's does.
  const [whole, fraction] = String(Number(bytes) / Number(per)).split('.');
  const tenth = fraction?.[0] ?? '0';
  return tenth === '0' ? `${whole}${suffix}` : `${whole}.${tenth}${suffix}`;
}
