import { GantryError } from '../../../domain/errors.js';

/** A request's cost: absent is 1; anything but a finite number from 0 to `max` is a 400 (a NaN cost would stall the worker it lands on). */
export function costOf(v: number | null, max: number, field = 'cost'): number {
  const cost = v ?? 1;
  if (!Number.isFinite(cost) || cost < 0 || cost > max) throw new GantryError('INVALID_ARGUMENT', `'${field}' must be a number from 0 to ${max}.`, { field });
  return cost;
}

/** A decimal number as a header carries one (`Number` alone also takes `0x10`, `0b1` and `0o7`). */
const DECIMAL = /^(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;

/** A numeric header: absent is null; empty, repeated or not a decimal number is NaN (refused by the reader). */
export function headerNumber(h: string | string[] | undefined): number | null {
  if (h === undefined) return null;
  const v = typeof h === 'string' ? h.trim() : '';
  return DECIMAL.test(v) ? Number(v) : NaN;
}

/** `/route/`'s `cost` field: absent (or null, or '') is null; a JSON number as is; a string as a header's (decimal only); anything else NaN. */
export function bodyCost(v: unknown): number | null {
  if (v === undefined || v === null || v === '') return null;
  if (typeof v === 'number') return v;
  return typeof v === 'string' ? headerNumber(v) : NaN;
}
