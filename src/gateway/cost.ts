/**
 * The largest cost one request may add to a worker's total. The edge refuses costs above its
 * `maxRequestCost` setting; this bound only keeps the sums finite whatever reaches the gateway
 * (an Infinity added and later subtracted would leave NaN, and a NaN total is never the smallest:
 * the worker would never be chosen again).
 */
export const MAX_ACCOUNTED_COST = 1e12;

/**
 * A request's cost as the traffic accounting counts it: always finite and ≥ 0. Not a number counts as
 * the default cost of 1, a negative cost as 0, anything above the bound as the bound.
 */
export function accountedCost(cost: number): number {
  if (Number.isNaN(cost)) return 1;
  if (cost <= 0) return 0;
  return Math.min(cost, MAX_ACCOUNTED_COST);
}
