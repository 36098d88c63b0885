import { GantryError } from '../domain/errors.js';

/** `--port-range 41000-41999` of `gantry up` and `gantry agent`: the host ports handed to instances. */
export function parsePortRange(v: string): { portRangeStart: number; portRangeEnd: number } {
  const m = /^\s*(\d{1,5})\s*-\s*(\d{1,5})\s*$/.exec(v);
  const start = Number(m?.[1]);
  const end = Number(m?.[2]);
  if (!m || start < 1 || end > 65535 || end < start)
    throw new GantryError('INVALID_ARGUMENT', `--port-range must be FIRST-LAST with 1 <= FIRST <= LAST <= 65535, not '${v}'.`);
  return { portRangeStart: start, portRangeEnd: end };
}
