import { GantryError } from '../errors.js';

/**
 * How many requests the gateway hands each worker at once, and how many may wait. They belong to the
 * endpoint, not to a workergroup: the gateway's queue is per endpoint (one row read per routing view),
 * and a deployment keeps them across a change of configuration (a new workergroup) as Elasticsearch
 * keeps `queue_capacity` for the life of a deployment.
 */
export interface EndpointLimits {
  /**
   * Requests one worker is sent at a time; 0: no fixed number, the gateway estimates from the
   * worker's benchmark and max_queue_time (Vast's and AI Core's rule). An Elasticsearch allocation
   * runs one inference at a time: 1.
   */
  readonly maxConcurrentPerWorker: number;
  /**
   * Requests that may wait for a worker in one replica's gateway queue; a request arriving when it is
   * full is refused at once (QUEUE_FULL). 0: unbounded (only the queue timeout bounds a wait).
   */
  readonly queueCapacity: number;
}

export const NO_LIMITS: EndpointLimits = { maxConcurrentPerWorker: 0, queueCapacity: 0 };

const BOUNDS: Readonly<Record<keyof EndpointLimits, number>> = { maxConcurrentPerWorker: 10_000, queueCapacity: 1_000_000 };

/** The limits a request sets over NO_LIMITS; a negative, fractional or huge value is INVALID_ARGUMENT naming the field. */
export function endpointLimits(patch: Partial<EndpointLimits> = {}): EndpointLimits {
  const out: Record<keyof EndpointLimits, number> = { ...NO_LIMITS };
  for (const key of Object.keys(BOUNDS) as (keyof EndpointLimits)[]) {
    const v = patch[key];
    if (v === undefined) continue;
    if (!Number.isInteger(v) || v < 0 || v > BOUNDS[key]) {
      throw new GantryError('INVALID_ARGUMENT', `'${key}' must be an integer from 0 to ${BOUNDS[key]}, got ${JSON.stringify(v)}.`, { field: key });
    }
    out[key] = v;
  }
  return out;
}
