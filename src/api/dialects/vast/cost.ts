import { GantryError } from '../../../domain/errors.js';
import { numberOf } from '../../../domain/number.js';

/** A request's cost: absent is 1; anything but a finite number from 0 to `max` is a 400 (a NaN cost would stall the worker it lands on). */
export function costOf(v: number | null, max: number, field = 'cost'): number {
  const cost = v ?? 1;
  if (!Number.isFinite(cost) || cost < 0 || cost > max) throw new GantryError('INVALID_ARGUMENT', `'${field}' must be a number from 0 to ${max}.`, { field });
  return cost;
}

/** A numeric header: absent is null; repeated, or not a number as `numberOf` reads one (decimal only), NaN (refused by the reader). */
export function headerNumber(h: string | string[] | undefined): number | null {
  if (h === undefined) return null;
  return typeof h === 'string' ? numberOf(h) : NaN;
}
