import { GantryError } from '../errors.js';

/**
 * The scaling parameters of an endpoint. Loads are in perf units per second
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

interface ParamBounds {
  readonly integer: boolean;
  readonly min: number;
  readonly max: number;
  /** Exclusive lower bound (targetUtil must be above 0). */
  readonly aboveMin?: boolean;
}

export const ENDPOINT_PARAM_BOUNDS: Readonly<Record<keyof EndpointParams, ParamBounds>> = {
  minLoad: { integer: false, min: 0, max: 1e9 },
  minColdLoad: { integer: false, min: 0, max: 1e9 },
  targetUtil: { integer: false, min: 0, max: 1, aboveMin: true },
  coldMult: { integer: false, min: 0, max: 1000 },
  coldWorkers: { integer: true, min: 0, max: 1000 },
  minWorkers: { integer: true, min: 0, max: 1000 },
  maxWorkers: { integer: true, min: 0, max: 1000 },
  inactivityTimeout: { integer: false, min: -1e9, max: 1e9 },
  maxQueueTime: { integer: false, min: 0, max: 86_400, aboveMin: true },
  targetQueueTime: { integer: false, min: 0, max: 86_400, aboveMin: true },
};
export const ENDPOINT_PARAM_KEYS = Object.keys(ENDPOINT_PARAM_BOUNDS) as readonly (keyof EndpointParams)[];

/** Defaults (the documented ones of the Vast.ai serverless engine this one follows). */
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

/** Parameters a request sets; absent ones keep their current value. */
export type EndpointParamsPatch = Partial<Readonly<Record<keyof EndpointParams, number>>>;

function invalid(param: keyof EndpointParams, message: string): GantryError {
  // The field is named quoted, by its engine name; a dialect renames it in its own errors.
  return new GantryError('INVALID_ARGUMENT', message, { field: param });
}

/** Apply `patch` over `base`; a value out of range (or min above max workers) is INVALID_ARGUMENT naming the field. */
export function mergeEndpointParams(base: EndpointParams, patch: EndpointParamsPatch): EndpointParams {
  const out: Record<keyof EndpointParams, number> = { ...base };
  for (const key of ENDPOINT_PARAM_KEYS) {
    const v = patch[key];
    if (v === undefined) continue;
    const b = ENDPOINT_PARAM_BOUNDS[key];
    const low = b.aboveMin ? v <= b.min : v < b.min;
    if (!Number.isFinite(v) || (b.integer && !Number.isInteger(v)) || low || v > b.max) {
      const range = `${b.aboveMin ? 'above' : 'at least'} ${b.min} and at most ${b.max}`;
      throw invalid(key, `'${key}' must be ${b.integer ? 'an integer' : 'a number'} ${range}, got ${JSON.stringify(v)}.`);
    }
    out[key] = v;
  }
  if (out.minWorkers > out.maxWorkers) {
    // Only what this request sets can contradict: a bound it leaves (a default, or an older value) yields to the one it sets.
    if (patch.minWorkers === undefined) out.minWorkers = out.maxWorkers;
    else if (patch.maxWorkers === undefined) out.maxWorkers = out.minWorkers;
    else throw invalid('minWorkers', `'minWorkers' (${out.minWorkers}) may not exceed 'maxWorkers' (${out.maxWorkers}).`);
  }
  return out;
}

/**
 * The scaling parameters a deployment's replica bounds (an AI Core configuration's minReplicas and
 * maxReplicas) set. minReplicas 0 scales to zero as KServe does: no worker until a request arrives,
 * so the load floor (min_load, which alone keeps one worker active) is 0 too. With minReplicas ≥ 1
 * the default floor stays, so the kept workers are active, not cold.
 */
export function replicaParams(r: { readonly minReplicas: number; readonly maxReplicas: number }): EndpointParamsPatch {
  return { minWorkers: r.minReplicas, maxWorkers: r.maxReplicas, ...(r.minReplicas === 0 ? { minLoad: 0 } : { minLoad: DEFAULT_ENDPOINT_PARAMS.minLoad }) };
}
