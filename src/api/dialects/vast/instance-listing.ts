import type { InstanceView } from '../../../control/instances/read-instances.js';
import { vastInstance } from './map.js';

const MINUTE_MS = 60_000;

interface Rendered {
  /** The first moment an `uptime_mins` in the body would read one more. */
  readonly until: number;
  readonly body: Buffer;
}

/**
 * `GET /api/v0/instances/` rendered once per listing: the control plane hands back the same array
 * while nothing in it changed (InstanceViewCache), so its JSON is kept beside it until the next
 * minute an uptime in it turns over, and polling clients are answered with the bytes already made.
 */
const RENDERED = new WeakMap<readonly InstanceView[], Rendered>();

export function vastInstanceListing(views: readonly InstanceView[], now: number): Buffer {
  const hit = RENDERED.get(views);
  if (hit !== undefined && now < hit.until) return hit.body;
  const rows = views.map((v) => vastInstance(v, now));
  let until = Number.POSITIVE_INFINITY;
  for (const { instance: i } of views)
    if (i.status === 'running' && i.startDate !== null) until = Math.min(until, i.startDate + (Math.floor((now - i.startDate) / MINUTE_MS) + 1) * MINUTE_MS);
  // Bytes, not a string: each answer is then written without encoding it again.
  const body = Buffer.from(JSON.stringify({ instances_found: rows.length, instances: rows }));
  RENDERED.set(views, { until, body });
  return body;
}
