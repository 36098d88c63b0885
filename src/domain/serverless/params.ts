import { GantryError } from '../errors.js';

/**
 * The scaling parameters of an endpoint, as Vast documents them. Loads are in perf units per second
 * (what one worker's benchmark measures); times are in seconds because that is how users give them.
 */
export interface EndpointParams {
  /** Floor of the load the active workers must be able to carry. */
  readonly minLoad: number;
  /** Floor of the load that active plus inactive (cold) workers together must be able to carry. */
  readonly minColdLoad: number;
  /** Wanted ratio of load to active capacity (0 < x ≤ 1); lower leaves more headroom. */
  readonly targetUtil: number;
  /** Cold capacity as a multiple of the hot (active) capacity target. */
  readonly coldMult: number;
  /** Inactive workers kept in reserve beyond the active ones. */
  readonly coldWorkers: number;
  /** Fewest workers (active and inactive) the endpoint keeps. */
  readonly minWorkers: number;
  /** Most workers (active and inactive) the endpoint may have. */
  readonly maxWorkers: number;
  /** Seconds without requests before the last active worker may stop; 0 = no such gate; negative = never scale to zero. */
  readonly inactivityTimeout: number;
  /** A worker whose estimated wait exceeds this (seconds) takes no more requests; they queue instead. */
  readonly maxQueueTime: number;
  /** A queue wait above this (seconds) makes the autoscaler add a worker. */
  readonly targetQueueTime: number;
}

interface ParamSpec {
  /** The name users send (Vast's field and CLI flag). */
  readonly name: string;
  readonly integer: boolean;
  readonly min: number;
  readonly max: number;
  /** Exclusive lower bound (target_util must be above 0). */
  readonly aboveMin?: boolean;
}

export const ENDPOINT_PARAM_SPECS: Readonly<Record<keyof EndpointParams, ParamSpec>> = {
  minLoad: { name: 'min_load', integer: false, min: 0, max: 1e9 },
  minColdLoad: { name: 'min_cold_load', integer: false, min: 0, max: 1e9 },
  targetUtil: { name: 'target_util', integer: false, min: 0, max: 1, aboveMin: true },
  coldMult: { name: 'cold_mult', integer: false, min: 0, max: 1000 },
  coldWorkers: { name: 'cold_workers', integer: true, min: 0, max: 1000 },
  minWorkers: { name: 'min_workers', integer: true, min: 0, max: 1000 },
  maxWorkers: { name: 'max_workers', integer: true, min: 0, max: 1000 },
  inactivityTimeout: { name: 'inactivity_timeout', integer: false, min: -1e9, max: 1e9 },
  maxQueueTime: { name: 'max_queue_time', integer: false, min: 0, max: 86_400, aboveMin: true },
  targetQueueTime: { name: 'target_queue_time', integer: false, min: 0, max: 86_400, aboveMin: true },
};

/** Vast's documented defaults. */
export const DEFAULT_ENDPOINT_PARAMS: EndpointParams = {
  minLoad: 1,
  minColdLoad: 0,
  targetUtil: 0.9,
  coldMult: 2.5,
  coldWorkers: 5,
  minWorkers: 5,
  maxWorkers: 16,
  inactivityTimeout: 0,
  maxQueueTime: 30,
  targetQueueTime: 10,
};

/**
 * Apply the values present in `input` (keyed by the users' names, numbers or numeric strings) over `base`.
 * A value of the wrong type or out of range is a 400 that names the field.
 */
export function mergeEndpointParams(base: EndpointParams, input: Readonly<Record<string, unknown>>): EndpointParams {
  const out: Record<string, number> = { ...base };
  for (const [key, spec] of Object.entries(ENDPOINT_PARAM_SPECS)) {
    const raw = input[spec.name];
    if (raw === undefined || raw === null || raw === '') continue;
    const v = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
    const low = spec.aboveMin ? v <= spec.min : v < spec.min;
    if (!Number.isFinite(v) || (spec.integer && !Number.isInteger(v)) || low || v > spec.max) {
      const range = `${spec.aboveMin ? 'above' : 'at least'} ${spec.min} and at most ${spec.max}`;
      throw new GantryError('INVALID_ARGUMENT', `'${spec.name}' must be ${spec.integer ? 'an integer' : 'a number'} ${range}, got ${JSON.stringify(raw)}.`, {
        field: spec.name,
      });
    }
    out[key] = v;
  }
  const p = out as unknown as EndpointParams;
  if (p.minWorkers > p.maxWorkers) {
    throw new GantryError('INVALID_ARGUMENT', `'min_workers' (${p.minWorkers}) may not exceed 'max_workers' (${p.maxWorkers}).`, { field: 'min_workers' });
  }
  return p;
}
