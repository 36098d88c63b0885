/**
 * The time series the control plane keeps for charts (the console's Overview): one value per series,
 * subject and bucket. A bucket is the sampler's interval; its start is the key, so replicas sampling
 * the same bucket write the same row (an upsert), never a second one.
 */
export const SERIES_NAMES = ['spend', 'gpu_util', 'rps', 'queue'] as const;
export type SeriesName = (typeof SERIES_NAMES)[number];

export function isSeriesName(v: unknown): v is SeriesName {
  return typeof v === 'string' && (SERIES_NAMES as readonly string[]).includes(v);
}

/** What each series' subject is and what its value means. */
export const SERIES_MEANING: Readonly<Record<SeriesName, { readonly subject: string; readonly unit: string }>> = {
  spend: { subject: 'account', unit: '$/h metered now (compute and instance disk)' },
  gpu_util: { subject: 'machine (0: the fleet)', unit: 'percent, mean of its GPUs' },
  rps: { subject: 'endpoint', unit: 'requests per second its gateway finished' },
  queue: { subject: 'endpoint', unit: 'requests held by every gateway (queued or in flight)' },
};

/** The subject of the fleet-wide GPU utilisation. */
export const FLEET_SUBJECT = 0;

/** The start (ms) of the bucket `at` falls in. */
export function bucketStart(at: number, stepMs: number): number {
  return Math.floor(at / stepMs) * stepMs;
}

/** Mean utilisation of a machine's GPUs; null when it reported none. */
export function meanUtil(utils: readonly number[] | null): number | null {
  if (utils === null || utils.length === 0) return null;
  return utils.reduce((s, u) => s + u, 0) / utils.length;
}

/** Requests a gateway finished per second between two readings of its monotone counter; a reset (restart) counts from zero. */
export function ratePerSecond(prev: { count: number; at: number } | undefined, count: number, at: number): number | null {
  if (prev === undefined || at <= prev.at) return null;
  const done = count >= prev.count ? count - prev.count : count;
  return (done * 1000) / (at - prev.at);
}
