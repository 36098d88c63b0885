/** Value formats shared by every CLI table and line, so one kind of number always reads the same. */

/** Dollars with two decimals (or `digits`); a value that rounds to zero reads `$0.00`, never `$-0.00`. */
export function usd(v: unknown, digits = 2): string | null {
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  const s = Math.abs(v).toFixed(digits);
  return (v < 0 && Number(s) !== 0 ? '-$' : '$') + s;
}

/** A price per hour in a `$/hr` column: always four decimals, as vastai prints them. */
export function rate(v: unknown): string | null {
  if (typeof v !== 'number' || !Number.isFinite(v)) return null;
  const s = v.toFixed(4);
  return Number(s) === 0 ? (0).toFixed(4) : s;
}

/** A size in GB with its unit. */
export function gb(v: unknown): string | null {
  return typeof v === 'number' && Number.isFinite(v) ? `${Number.isInteger(v) ? v : v.toFixed(1)} GB` : null;
}

/** Epoch seconds (the Vast dialect's times) or an ISO string as `YYYY-MM-DD HH:MM` UTC. */
export function when(v: unknown): string | null {
  const d = typeof v === 'number' ? new Date(v * 1000) : typeof v === 'string' ? new Date(v) : null;
  return d === null || Number.isNaN(d.getTime()) ? null : d.toISOString().slice(0, 16).replace('T', ' ');
}

/** A day number (days since 1970-01-01, as earnings report them) as a date. */
export function day(v: unknown): string | null {
  return typeof v === 'number' && Number.isFinite(v) ? new Date(v * 86_400_000).toISOString().slice(0, 10) : null;
}

/** yes/no for a flag column. */
export function yesNo(v: unknown): string | null {
  return typeof v === 'boolean' ? (v ? 'yes' : 'no') : null;
}
