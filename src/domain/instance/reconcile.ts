import type { InstanceStatus, InstanceTarget, PendingOp } from './status.js';

/** How a stop or destroy that could not end what runs says so (`stop did not complete: …`). */
export const STILL_RUNNING = 'did not complete: processes are still running';

/** Prefix of the message a look records when a running instance's onstart has ended. */
export const ONSTART_EXITED = 'onstart exited with code ';

/** What the runtime really shows for one instance. */
export type Observation =
  | { readonly state: 'running'; readonly onstartExitCode?: number | null }
  | { readonly state: 'exited'; readonly exitCode: number | null }
  | { readonly state: 'absent' };

export interface ReconcileInput {
  readonly target: InstanceTarget;
  readonly status: InstanceStatus;
  readonly generation: number;
  readonly observedGeneration: number;
  readonly pendingOp: PendingOp;
  /** Set while it wants to run but holds no GPUs (outbid): it must not run until placement grants them. */
  readonly gpuWaitSince?: number | null;
}

const waiting = (i: ReconcileInput): boolean => i.gpuWaitSince !== undefined && i.gpuWaitSince !== null;

/** The side effect the reconciler must perform on the runtime before recording truth. */
export type RuntimeStep = 'none' | 'start' | 'stop' | 'restart' | 'recycle' | 'destroy';

export interface ReconcilePlan {
  readonly step: RuntimeStep;
  /** Status to record before a slow step, so users see progress (loading, stopping, rebooting). */
  readonly interim: InstanceStatus | null;
}

/**
 * Pure decision of one reconcile pass: compare intent with what the runtime shows.
 * Requests carry a generation; `generation > observedGeneration` means one is not yet carried out.
 */
export function planReconcile(i: ReconcileInput, obs: Observation): ReconcilePlan {
  const pending = i.generation > i.observedGeneration;
  // A stop or destroy that could not end what runs stands as `failed`, with its reason, until it is asked for
  // again or what ran is seen gone: tried again by itself it would go back to `stopping` every pass, for ever.
  const failedStop = i.status === 'failed' && !pending && obs.state === 'running';
  switch (i.target) {
    case 'deleted':
      if (failedStop) return { step: 'none', interim: null };
      return { step: 'destroy', interim: obs.state === 'running' ? 'stopping' : null };
    case 'stopped':
      if (failedStop) return { step: 'none', interim: null };
      if (obs.state === 'running') return { step: 'stop', interim: 'stopping' };
      return { step: 'none', interim: null };
    case 'running':
      // Outbid: it stops through the one stop path (its GPUs are released once the stop is confirmed).
      if (waiting(i)) return obs.state === 'running' && !failedStop ? { step: 'stop', interim: 'stopping' } : { step: 'none', interim: null };
      if (pending && i.pendingOp !== null) return { step: i.pendingOp === 'reboot' ? 'restart' : 'recycle', interim: 'rebooting' };
      // A live process is adopted (also after a crash between "spawned" and "recorded").
      if (obs.state === 'running') return { step: 'none', interim: null };
      if (pending) return { step: 'start', interim: 'loading' };
      return { step: 'none', interim: null };
  }
}

/**
 * What a pass takes the runtime to show without asking it first, or null where the plan depends on a look:
 * a running instance just asked to stop or to be deleted is stopped at once, and the stop's own result is the
 * look (one that ended meanwhile is found gone by it, and recorded `stopped` or `destroyed` as a look would).
 * A look first would cost its round trip to the host, and a scan of its processes, on every stop's way.
 */
export function assumedObservation(i: ReconcileInput): Observation | null {
  const ending = i.target === 'stopped' || i.target === 'deleted';
  return ending && i.status === 'running' && i.generation > i.observedGeneration ? { state: 'running' } : null;
}

export interface Outcome {
  readonly status: InstanceStatus;
  readonly message: string | null;
  readonly exitCode: number | null;
}

/**
 * Status to record after a pass, from the observation taken after the step. Only observations
 * move status: a stop is `stopped` only once the runtime shows nothing running.
 */
export function outcomeOf(i: ReconcileInput, after: Observation, prev: { status: InstanceStatus }): Outcome {
  switch (i.target) {
    case 'deleted':
      return after.state === 'absent'
        ? { status: 'destroyed', message: null, exitCode: null }
        : { status: 'failed', message: `destroy ${STILL_RUNNING}`, exitCode: null };
    case 'stopped':
      return after.state === 'running'
        ? { status: 'failed', message: `stop ${STILL_RUNNING}`, exitCode: null }
        : { status: 'stopped', message: null, exitCode: null };
    case 'running':
      if (waiting(i)) {
        if (after.state === 'running') return { status: 'failed', message: `stop ${STILL_RUNNING}`, exitCode: null };
        // Never started yet (waiting for its first GPUs) or stopped after being outbid; the reason stays shown.
        return { status: prev.status === 'created' ? 'created' : 'stopped', message: null, exitCode: null };
      }
      if (after.state === 'running') {
        const code = after.onstartExitCode;
        return { status: 'running', message: code === undefined || code === null ? null : `${ONSTART_EXITED}${code}`, exitCode: null };
      }
      if (after.state === 'exited') {
        const code = after.exitCode;
        return {
          status: 'exited',
          message: code === null ? 'main process exited (exit code unknown)' : `main process exited with code ${code}`,
          exitCode: code,
        };
      }
      // Nothing there: it was never started (still pending) or vanished without an exit record.
      if (prev.status === 'created') return { status: 'created', message: null, exitCode: null };
      return { status: 'exited', message: 'process group disappeared without an exit code (killed from outside Gantry?)', exitCode: null };
  }
}
