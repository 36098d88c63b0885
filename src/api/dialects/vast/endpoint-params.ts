import { GantryError } from '../../../domain/errors.js';
import {
  ENDPOINT_PARAM_KEYS,
  mergeEndpointParams,
  paramErrorMessage,
  type EndpointParams,
  type EndpointParamsPatch,
  type ParamProblem,
} from '../../../domain/serverless/params.js';

/** Vast's field (and CLI flag) name of each endpoint parameter. */
export const VAST_PARAM_NAMES: Readonly<Record<keyof EndpointParams, string>> = {
  minLoad: 'min_load',
  minColdLoad: 'min_cold_load',
  targetUtil: 'target_util',
  coldMult: 'cold_mult',
  coldWorkers: 'cold_workers',
  minWorkers: 'min_workers',
  maxWorkers: 'max_workers',
  inactivityTimeout: 'inactivity_timeout',
  maxQueueTime: 'max_queue_time',
  targetQueueTime: 'target_queue_time',
};

const vastName = (k: keyof EndpointParams): string => VAST_PARAM_NAMES[k];

/** The parameters a Vast body sets (numbers or numeric strings, as the clients send them). */
export function vastParamsPatch(body: Readonly<Record<string, unknown>>): EndpointParamsPatch {
  const out: Partial<Record<keyof EndpointParams, number>> = {};
  for (const key of ENDPOINT_PARAM_KEYS) {
    const name = VAST_PARAM_NAMES[key];
    const raw = body[name];
    if (raw === undefined || raw === null || raw === '') continue;
    const v = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
    if (!Number.isFinite(v)) throw new GantryError('INVALID_ARGUMENT', `'${name}' must be a number, got ${JSON.stringify(raw)}.`, { field: name });
    out[key] = v;
  }
  return out;
}

/** Parameters by Vast's names merged over `base` (what the engine does with the patch, checked early). */
export function mergeVastParams(base: EndpointParams, body: Readonly<Record<string, unknown>>): EndpointParams {
  try {
    return mergeEndpointParams(base, vastParamsPatch(body));
  } catch (err) {
    if (!(err instanceof GantryError)) throw err;
    const msg = vastParamMessage(err.details.problem);
    throw msg === null ? err : new GantryError(err.code, msg, err.details);
  }
}

/** An engine parameter problem told with Vast's field names. */
export function vastParamMessage(problem: unknown): string | null {
  const p = problem as ParamProblem | undefined;
  return p !== undefined && typeof p === 'object' && p !== null && 'param' in p ? paramErrorMessage(p, vastName) : null;
}

export function vastParams(p: EndpointParams): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of ENDPOINT_PARAM_KEYS) out[VAST_PARAM_NAMES[key]] = p[key];
  return out;
}
