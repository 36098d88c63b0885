import type { InstanceStatus, InstanceTarget } from '../instance/status.js';

/**
 * Where a worker is in its life, as Vast names the states (Creating, Loading, Model Loading, Ready,
 * Inactive, Stopping, Starting, Rebooting, Destroying, Error, Updating). Derived, never stored:
 * from the worker instance's intent and truth plus the worker's own last report.
 */
export type WorkerPhase =
  'creating' | 'loading' | 'model_loading' | 'ready' | 'inactive' | 'stopping' | 'starting' | 'rebooting' | 'destroying' | 'error' | 'updating';

/** Phases of a worker on its way to serving: made, loading, starting or restarting. */
export const COMING_PHASES: ReadonlySet<WorkerPhase> = new Set(['creating', 'loading', 'model_loading', 'starting', 'rebooting', 'updating']);

type PhaseCounts = Readonly<Partial<Record<WorkerPhase, number>>>;

function anyIn(set: ReadonlySet<WorkerPhase>, phases: PhaseCounts): boolean {
  for (const p of set) if ((phases[p] ?? 0) > 0) return true;
  return false;
}

/** Whether per-phase counts of workers show one on its way. */
export function anyComing(phases: PhaseCounts): boolean {
  return anyIn(COMING_PHASES, phases);
}

/** Phases that hold compute and serve, or will: the active workers the autoscaler counts. */
export const ACTIVE_PHASES: ReadonlySet<WorkerPhase> = new Set([...COMING_PHASES, 'ready']);

/** Whether per-phase counts of workers show an active one (serving, or on its way). */
export function anyActive(phases: PhaseCounts): boolean {
  return anyIn(ACTIVE_PHASES, phases);
}

/**
 * Whether a worker holds a place under max_workers: every worker but one being destroyed or broken, and a
 * broken one whose host went offline a short while ago (workerOfflineGraceMs) is waited for, so it holds one too.
 */
export function holdsPlace(w: { readonly phase: WorkerPhase; readonly offline?: boolean }): boolean {
  return w.phase !== 'destroying' && (w.phase !== 'error' || w.offline === true);
}

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

/**
 * The message outcomeOf (domain/instance/reconcile.ts) leaves on a running instance whose onstart
 * exited, possibly after the host runtime's own notice ("…; onstart exited with code 1").
 */
const ONSTART_EXITED = /(?:^|; )onstart exited with code (-?\d+)$/;

export interface ReadinessFacts {
  readonly status: InstanceStatus;
  readonly statusMsg: string | null;
  readonly loaded: boolean;
  /** How long the instance has been running (since its status last changed). */
  readonly runningForMs: number;
  /** workerReadyTimeoutMs. */
  readonly readyTimeoutMs: number;
  /**
   * Its command is its server (a code deployment's bootstrap, exec'd by the onstart): once that exits
   * the worker serves nothing, ready or not. Absent: a Vast worker's onstart, which may start a server
   * and end.
   */
  readonly commandIsServer?: boolean;
}

/**
 * Why a running worker does not serve or never will: its onstart (the worker's own command) exited
 * with an error (ready or not), or it has run past the readiness bound without becoming ready. Such a worker is in Error
 * and replaced, not left in Model Loading where scale-down could keep it over a ready one. A worker
 * whose command is its server is dead once that exits, even after it was ready: its last report
 * would keep it routed to (failing every request) until it went stale.
 */
export function notReadyReason(w: ReadinessFacts): string | null {
  if (w.status !== 'running') return null;
  const code = ONSTART_EXITED.exec(w.statusMsg ?? '')?.[1];
  if (w.commandIsServer === true && code !== undefined) return `the worker's server exited with code ${code}`;
  // A Vast worker's onstart may start a server and end (code 0): that says nothing. One that ended with an
  // error is in error, ready or not (README, worker states): most often the onstart is the server itself
  // (`exec node worker.mjs`), and a ready worker whose server crashed would otherwise stay Ready, routed to
  // (every request refused) and kept over a healthy worker by scale-down, until its last report went stale.
  if (code !== undefined && code !== '0') return `the worker's command exited with code ${code}${w.loaded ? '' : ' before it became ready'}`;
  if (w.loaded) return null;
  if (w.runningForMs > w.readyTimeoutMs) return `not ready within ${Math.round(w.readyTimeoutMs / 1000)}s of starting`;
  return null;
}
