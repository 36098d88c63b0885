/**
 * Reserved instances, as Vast describes them: credit prepaid into an instance earns a discount that grows
 * with the time it covers — 20% for a month, 30% for three (Vast's default curve) — and never more than
 * the machine's own `discount_rate` (credit_discount_max) when its host set one. Compute is paid from the
 * deposit first, at that discount; what is left goes back to the account when the instance is destroyed.
 */
export const HOURS_PER_MONTH = 30 * 24;

/** Months of the instance's rate ($/hour, compute and storage) a deposit covers. */
export function prepaidMonths(deposit: number, perHour: number): number {
  return perHour > 0 ? deposit / (perHour * HOURS_PER_MONTH) : 0;
}

/** The discount (0..1) a deposit covering `months` earns. */
export function prepayDiscount(months: number, machineMax: number | null): number {
  const curve = months <= 1 ? 0.2 * months : Math.min(0.3, 0.2 + 0.05 * (months - 1));
  const d = machineMax === null ? curve : Math.min(machineMax, curve);
  return Math.max(0, Math.round(d * 1e4) / 1e4);
}
