import type { InstanceStatus, InstanceTarget } from '../instance/status.js';

/**
 * Where a worker is in its life, as Vast names the states (Creating, Loading, Model Loading, Ready,
 * Inactive, Stopping, Starting, Rebooting, Destroying, Error, Updating). Derived, never stored:
 * from the worker instance's intent and truth plus the worker's own last report.
 */
export type WorkerPhase =
  'creating' | 'loading' | 'model_loading' | 'ready' | 'inactive' | 'stopping' | 'starting' | 'rebooting' | 'destroying' | 'error' | 'updating';

/** Phases that hold compute and serve, or will: the active workers the autoscaler counts. */
export const ACTIVE_PHASES: ReadonlySet<WorkerPhase> = new Set(['creating', 'loading', 'model_loading', 'ready', 'starting', 'rebooting', 'updating']);

export interface WorkerFacts {
  readonly target: InstanceTarget;
  readonly status: InstanceStatus;
  /** The worker said its model is loaded (and benchmarked). */
  readonly loaded: boolean;
  readonly errorMsg: string | null;
}

export function workerPhase(w: WorkerFacts): WorkerPhase {
  if (w.target === 'deleted') return 'destroying';
  if (w.status === 'failed' || w.status === 'unknown' || w.status === 'exited') return 'error';
  if (w.target === 'stopped') return w.status === 'stopped' ? 'inactive' : 'stopping';
  switch (w.status) {
    case 'created':
      return 'creating';
    case 'loading':
      return 'loading';
    case 'rebooting':
      return 'rebooting';
    case 'stopping':
    case 'stopped':
      return 'starting';
    case 'destroyed':
      return 'destroying';
    case 'running':
      if (w.errorMsg !== null && w.errorMsg !== '') return 'error';
      return w.loaded ? 'ready' : 'model_loading';
    default:
      return 'error';
  }
}
