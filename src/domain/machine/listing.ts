import { GantryError } from '../errors.js';

/** A listing as the owner asks for it (units of the core: $/hour, $/GB/month, ms). Absent fields keep their value. */
export interface ListingRequest {
  readonly priceGpuPerHour?: number;
  readonly priceDiskPerGbMonth?: number;
  readonly priceInetUpPerGb?: number;
  readonly priceInetDownPerGb?: number;
  readonly minBidPerGpuHour?: number;
  readonly minChunk?: number;
  readonly endDate?: number | null;
  readonly discountRate?: number | null;
}

const MAX_PRICE = 1000;
const bad = (field: string, what: string): never => {
  throw new GantryError('INVALID_ARGUMENT', `'${field}' must be ${what}.`, { field });
};

/** Prices are finite and bounded, minChunk a power of two the machine can offer, endDate in the future. */
export function validateListing(l: ListingRequest, m: { numGpus: number }, now: number): ListingRequest {
  const price = (v: number | undefined, field: string): void => {
    if (v !== undefined && !(Number.isFinite(v) && v >= 0 && v <= MAX_PRICE)) bad(field, `a price between 0 and ${MAX_PRICE}`);
  };
  price(l.priceGpuPerHour, 'priceGpuPerHour');
  price(l.priceDiskPerGbMonth, 'priceDiskPerGbMonth');
  price(l.priceInetUpPerGb, 'priceInetUpPerGb');
  price(l.priceInetDownPerGb, 'priceInetDownPerGb');
  price(l.minBidPerGpuHour, 'minBidPerGpuHour');
  if (l.minChunk !== undefined) {
    const c = l.minChunk;
    if (!Number.isInteger(c) || c < 1 || (c & (c - 1)) !== 0) bad('minChunk', 'a power of two (1, 2, 4, …)');
    if (m.numGpus > 0 && c > m.numGpus) bad('minChunk', `at most the machine's ${m.numGpus} GPUs`);
  }
  if (l.endDate !== undefined && l.endDate !== null && !(Number.isFinite(l.endDate) && l.endDate > now)) bad('endDate', 'a time in the future');
  if (l.discountRate !== undefined && l.discountRate !== null && !(l.discountRate >= 0 && l.discountRate <= 1)) bad('discountRate', 'between 0 and 1');
  return l;
}

/** A maintenance window: starts now or later (a minute of clock skew allowed), lasts (0, 720] hours. */
export function validateMaintenance(startMs: number, durationHours: number, now: number): { start: number; end: number } {
  if (!Number.isFinite(startMs) || startMs < now - 60_000) bad('startMs', 'now or in the future');
  if (!Number.isFinite(durationHours) || durationHours <= 0 || durationHours > 720) bad('durationHours', 'between 0 and 720 hours');
  return { start: startMs, end: startMs + durationHours * 3_600_000 };
}
