/**
 * Untrusted values shown in error messages: cut to a length and safe for any nesting. A plain
 * `JSON.stringify` of a request value overflows the stack on deep nesting (a 500) and echoes a
 * megabyte back for a large one.
 */

const MAX_LEVELS = 8;

/** `v` as JSON-like text of at most `max` characters (longer text ends in `…`). */
export function showValue(v: unknown, max = 100): string {
  const out: string[] = [];
  let length = 0;
  // Writes stop once the budget is spent; every level below MAX_LEVELS is shown as `…`, so recursion is bounded.
  const put = (s: string): boolean => {
    out.push(s);
    length += s.length;
    return length <= max;
  };
  const walk = (x: unknown, level: number): boolean => {
    if (x === null || x === undefined) return put(String(x));
    if (typeof x === 'string') return put(JSON.stringify(x.length > max ? x.slice(0, max + 1) : x));
    if (typeof x === 'number' || typeof x === 'boolean' || typeof x === 'bigint') return put(String(x));
    if (typeof x !== 'object') return put(`[${typeof x}]`);
    if (level >= MAX_LEVELS) return put(Array.isArray(x) ? '[…]' : '{…}');
    if (Array.isArray(x)) {
      if (!put('[')) return false;
      for (let i = 0; i < x.length; i++) if ((i > 0 && !put(',')) || !walk(x[i], level + 1)) return false;
      return put(']');
    }
    if (!put('{')) return false;
    let first = true;
    for (const k of Object.keys(x)) {
      if ((!first && !put(',')) || !put(`${JSON.stringify(k.slice(0, max + 1))}:`) || !walk((x as Record<string, unknown>)[k], level + 1)) return false;
      first = false;
    }
    return put('}');
  };
  walk(v, 0);
  const text = out.join('');
  return text.length > max ? `${text.slice(0, max)}…` : text;
}
