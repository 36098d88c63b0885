/**
 * A number as text is written as JSON writes one (a `-`, digits, a fraction, an exponent; a bare `.5`
 * or `5.` too). `Number` alone also reads `0x10`, `0b1`, `0o7`, `+1` and `Infinity`.
 */
const DECIMAL = /^-?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A number, or a string that is one (blanks around it aside), as a number; anything else NaN (`Number` of an object can throw, of `''` is 0). */
export function numberOf(v: unknown): number {
  if (typeof v === 'number') return v;
  if (typeof v !== 'string') return NaN;
  const text = v.trim();
  return DECIMAL.test(text) ? Number(text) : NaN;
}
