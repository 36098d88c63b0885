import { GantryError } from '../../domain/errors.js';

/**
 * Elasticsearch's adaptive allocations (AdaptiveAllocationsSettings): stored on the assignment as
 * given, merged by `_update`, shown back by `_start`, `_update` and `_stats`, and turned here into the
 * engine's worker bounds.
 */

/** Elasticsearch's bound on allocations per deployment (a sanity bound). */
export const MAX_ALLOCATIONS = 1024;

/** The settings as stored on the assignment: any field may be unset (null); adaptive when `enabled` is true. */
export interface AdaptiveAllocations {
  readonly enabled: boolean | null;
  readonly min: number | null;
  readonly max: number | null;
}

/** An `_update`'s adaptive settings, merged into the stored ones: a field left out keeps its value, a null min or max clears it. */
export interface AdaptivePatch {
  readonly enabled?: boolean;
  readonly min?: number | null;
  readonly max?: number | null;
}

const invalid = (msg: string, field: string): GantryError => new GantryError('INVALID_ARGUMENT', msg, { field });

export function checkAdaptive(a: AdaptiveAllocations): void {
  if (a.min !== null && (a.min < 0 || a.min > MAX_ALLOCATIONS))
    throw invalid(`[min_number_of_allocations] must be between 0 and ${MAX_ALLOCATIONS}`, 'adaptive_allocations');
  if (a.max !== null && (a.max < 1 || a.max > MAX_ALLOCATIONS))
    throw invalid(`[max_number_of_allocations] must be between 1 and ${MAX_ALLOCATIONS}`, 'adaptive_allocations');
  if (a.min !== null && a.max !== null && a.min > a.max)
    throw invalid('[min_number_of_allocations] must not be greater than [max_number_of_allocations]', 'adaptive_allocations');
}

/** Both requests' validate(): an explicit number of allocations and enabled adaptive allocations exclude each other. */
export function checkNotBoth(allocations: number | null, a: AdaptiveAllocations | null): void {
  if (allocations !== null && a?.enabled === true)
    throw invalid('[number_of_allocations] cannot be set if adaptive allocations is enabled', 'number_of_allocations');
}

/** Elasticsearch's merge of stored settings with an update's (AdaptiveAllocationsSettings.merge). */
export function mergeAdaptive(stored: AdaptiveAllocations | null, u: AdaptivePatch): AdaptiveAllocations {
  const base = stored ?? { enabled: null, min: null, max: null };
  return {
    enabled: u.enabled ?? base.enabled,
    min: u.min !== undefined ? u.min : base.min,
    max: u.max !== undefined ? u.max : base.max,
  };
}

/**
 * Whether an `_update`'s adaptive settings change the stored ones, as Elasticsearch's hasUpdates
 * decides: the settings as given (not merged) are compared with the stored settings, a field left
 * out as unset. So `{enabled: true}` changes stored `{enabled: true, max: 2}`, though merging it
 * would keep them: Elasticsearch counts it, and refuses it (409) while the deployment starts. An
 * explicit null min or max is always a change: Elasticsearch parses it as -1 (clear), which no
 * stored setting holds. `reset` (`adaptive_allocations: null`) is one too, whatever is stored.
 */
export function adaptiveChanges(stored: AdaptiveAllocations | null, u: AdaptivePatch | 'reset'): boolean {
  if (u === 'reset' || u.min === null || u.max === null) return true;
  return stored === null || (u.enabled ?? null) !== stored.enabled || (u.min ?? null) !== stored.min || (u.max ?? null) !== stored.max;
}

/** The engine's worker bounds for fixed allocations, or for adaptive ones when enabled. */
export function workerBounds(allocations: number, a: AdaptiveAllocations | null): { minWorkers: number; maxWorkers: number; minLoad: number } {
  if (a?.enabled !== true) return { minWorkers: allocations, maxWorkers: allocations, minLoad: allocations };
  const min = a.min ?? 0;
  const max = Math.max(a.max ?? Math.max(allocations, min, 1), min, 1);
  return { minWorkers: min, maxWorkers: max, minLoad: min };
}

/** The workergroup env key that holds the stored settings. */
export const ADAPTIVE_ENV = 'GANTRY_ES_ADAPTIVE';

/**
 * The settings in the workergroup's env: JSON of the stored settings; absent or `false`: none; `true`
 * (deployments started before the settings were stored whole): enabled, within the worker bounds.
 */
export function adaptiveOfEnv(v: string | undefined, params: { minWorkers: number; maxWorkers: number }): AdaptiveAllocations | null {
  if (v === undefined || v === '' || v === 'false') return null;
  if (v === 'true') return { enabled: true, min: params.minWorkers, max: params.maxWorkers };
  try {
    const o = JSON.parse(v) as Record<string, unknown>;
    const num = (x: unknown): number | null => (typeof x === 'number' && Number.isInteger(x) ? x : null);
    return { enabled: typeof o.enabled === 'boolean' ? o.enabled : null, min: num(o.min), max: num(o.max) };
  } catch {
    return null;
  }
}

export const adaptiveEnv = (a: AdaptiveAllocations | null): string => (a === null ? 'false' : JSON.stringify(a));
