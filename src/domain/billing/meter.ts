import type { InstanceStatus } from '../instance/status.js';
import { storagePerHour } from '../offer/offer.js';

/**
 * What an instance is charged for, by state. Compute (the GPU price, dph) runs from the moment the
 * runtime reports the workload running until the runtime confirms it stopped: `stopping` still holds
 * the GPUs, `stopped`, `exited` and `failed` do not bill compute, and neither does `unknown` (a host
 * we cannot see is the host's problem, not the renter's). Storage bills from creation until destroyed,
 * stopped or not, as on Vast.
 */
export type MeterKind = 'gpu' | 'disk';
export const METER_KINDS: readonly MeterKind[] = ['gpu', 'disk'];

export function meters(status: InstanceStatus): Readonly<Record<MeterKind, boolean>> {
  return {
    gpu: status === 'running' || status === 'rebooting' || status === 'stopping',
    disk: status !== 'destroyed',
  };
}

export const MS_PER_HOUR = 3_600_000;

export const MS_PER_DAY = 86_400_000;

/**
 * The stretch from `start` to `end` cut at each UTC midnight it crosses. A charge row holds one UTC day, so a
 * statement of whole days (a day's, a month's) sums its rows whole: a row that ran into the next day would be
 * counted in both periods, and a stretch settled late (the control plane down over a weekend) in every day it spans.
 */
export function daySpans(start: number, end: number): [number, number][] {
  const out: [number, number][] = [];
  for (let s = start; s < end;) {
    const e = Math.min(end, (Math.floor(s / MS_PER_DAY) + 1) * MS_PER_DAY);
    out.push([s, e]);
    s = e;
  }
  return out;
}

/** Dollars for `ms` at `ratePerHour`. */
export function amountFor(ratePerHour: number, ms: number): number {
  return (ratePerHour * Math.max(0, ms)) / MS_PER_HOUR;
}

/** The rates of one instance, $/hour per meter. */
export function ratesOf(i: { readonly dphBase: number; readonly storageCost: number; readonly diskGb: number }): Record<MeterKind, number> {
  return { gpu: i.dphBase, disk: storagePerHour({ priceDiskPerGbMonth: i.storageCost }, i.diskGb) };
}
