import { GantryError } from '../errors.js';
import { FAILED_START, STEP_TIMED_OUT } from './observed-record.js';
import type { InstanceStatus, InstanceTarget, PendingOp } from './status.js';

/** What the API may change on an instance; the only place that decides whether a request is legal. */
export type InstanceAction = 'start' | 'stop' | 'destroy' | 'reboot' | 'recycle';

export interface IntentState {
  readonly id: number;
  readonly target: InstanceTarget;
  readonly status: InstanceStatus;
  readonly generation: number;
  readonly observedGeneration: number;
  /** Tells a start the runtime refused (`failed to start: …`) from one that has not happened yet. */
  readonly statusMsg?: string | null;
  /** Set while it waits for GPUs to come free: a start then has nothing to do. */
  readonly gpuWaitSince?: number | null;
}

/**
 * Its last start was refused by the runtime (a full disk, a port taken, a secret it could not use), so
 * nothing runs and nothing is under way: starting it again tries again. Not a start that only ran out of
 * time (the runtime may still be at it), nor one waiting for GPUs.
 */
function startRefused(s: IntentState): boolean {
  const msg = s.statusMsg ?? '';
  return msg.startsWith(FAILED_START) && !msg.includes(STEP_TIMED_OUT) && (s.gpuWaitSince ?? null) === null;
}

/** The new intent to write, or `null` when the request is an idempotent repeat (nothing to write). */
export interface IntentChange {
  readonly target: InstanceTarget;
  readonly pendingOp: PendingOp;
}

/** A stop is still being carried out: the instance is not yet at rest in `stopped`. */
function isStopping(s: IntentState): boolean {
  return s.target === 'stopped' && s.status !== 'stopped' && s.status !== 'exited' && s.status !== 'failed';
}

function illegal(s: IntentState, action: InstanceAction, why: string): GantryError {
  return new GantryError('ILLEGAL_TRANSITION', `Cannot ${action} instance ${s.id}: ${why}.`, {
    action,
    target: s.target,
    status: s.status,
  });
}

/**
 * Decide a user request against the current state. Throws ILLEGAL_TRANSITION with a reason a
 * person understands; returns null for idempotent repeats (stop a stopped instance, start a
 * running one, destroy one already being destroyed).
 */
export function decideIntent(s: IntentState, action: InstanceAction): IntentChange | null {
  if (s.status === 'destroyed') throw illegal(s, action, 'it has been destroyed');
  if (s.target === 'deleted') {
    // A destroy that could not end what runs stands as failed until asked for again: this is that ask.
    if (action === 'destroy') return s.status === 'failed' ? { target: 'deleted', pendingOp: null } : null;
    throw illegal(s, action, 'it is being destroyed');
  }
  switch (action) {
    case 'stop':
      // Repeated stop is idempotent; a stop that failed may be retried.
      if (s.target === 'stopped') return s.status === 'failed' ? { target: 'stopped', pendingOp: null } : null;
      return { target: 'stopped', pendingOp: null };
    case 'start':
      if (isStopping(s)) throw illegal(s, action, 'it is still stopping; start it again once it is stopped');
      if (s.target === 'running') {
        // Starting an instance whose main process exited runs it again, and so does starting one whose first
        // start the runtime refused (still created; a refused start after a stop reads exited); a live one, or
        // one whose start is still to be carried out, is left alone.
        const over = s.status === 'exited' || (s.status === 'created' && startRefused(s));
        return over && s.observedGeneration === s.generation ? { target: 'running', pendingOp: null } : null;
      }
      if (s.status === 'failed') throw illegal(s, action, 'its last stop did not complete; stop it again (the stop is retried) before starting');
      return { target: 'running', pendingOp: null };
    case 'destroy':
      return { target: 'deleted', pendingOp: null };
    case 'reboot':
    case 'recycle':
      if (s.target !== 'running') throw illegal(s, action, notRunningWhy(s.status));
      return { target: 'running', pendingOp: action };
  }
}

/** Why an instance whose intent is to be stopped cannot reboot or recycle, from what it is doing. */
function notRunningWhy(status: InstanceStatus): string {
  if (status === 'failed') return 'its last stop did not complete; stop it again, then start it';
  // Still running or stopping (the stop is under way, or its host is away): it has not stopped yet.
  if (status === 'running' || status === 'stopping' || status === 'rebooting' || status === 'loading' || status === 'unknown') {
    return 'it is being stopped; start it once it is stopped';
  }
  return 'it is stopped; start it instead';
}
