import { GantryError } from '../../../domain/errors.js';
import { ENDPOINT_PARAM_KEYS, type EndpointParams, type EndpointParamsPatch } from '../../../domain/serverless/params.js';
import { showValue } from '../../../domain/show.js';

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

/** The parameters a Vast body sets (numbers or numeric strings, as the clients send them). */
export function vastParamsPatch(body: Readonly<Record<string, unknown>>): EndpointParamsPatch {
  const out: Partial<Record<keyof EndpointParams, number>> = {};
  for (const key of ENDPOINT_PARAM_KEYS) {
    const name = VAST_PARAM_NAMES[key];
    const raw = body[name];
    if (raw === undefined || raw === null || raw === '') continue;
    const v = typeof raw === 'number' ? raw : typeof raw === 'string' ? Number(raw) : NaN;
    if (!Number.isFinite(v)) throw new GantryError('INVALID_ARGUMENT', `'${name}' must be a number, got ${showValue(raw)}.`, { field: name });
    out[key] = v;
  }
  return out;
}

export function vastParams(p: EndpointParams): Record<string, number> {
  const out: Record<string, number> = {};
  for (const key of ENDPOINT_PARAM_KEYS) out[VAST_PARAM_NAMES[key]] = p[key];
  return out;
}
