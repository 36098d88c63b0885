/** A number, or a string that is one, as a number; anything else NaN (`Number` of an object can throw, of `''` is 0). */
export function numberOf(v: unknown): number {
  return typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' ? Number(v) : NaN;
}
