import { ONSTART_EXITED, outcomeOf, STILL_RUNNING, type Observation, type ReconcileInput, type RuntimeStep } from './reconcile.js';
import type { InstanceStatus } from './status.js';

/** Prefix of status_msg after a start the runtime refused (spawn error, container create error). */
export const FAILED_START = 'failed to start: ';
/** How a host step that ran out of time ends its message (the runtime may still be carrying it out). */
export const STEP_TIMED_OUT = 'did not complete within';
/** Why an instance reads `unknown`: its host went silent. Not a stop's reason: it is not kept once the host is back. */
export const HOST_OFFLINE = 'host offline: ';

/** What the record says besides the intent: what a look compares and keeps. */
export interface RecordedInstance extends ReconcileInput {
  readonly statusMsg: string | null;
  readonly exitCode: number | null;
  readonly startDate: number | null;
}

export interface Look {
  /** The step taken ('none' for a plain look) and the observation after it. */
  readonly step: RuntimeStep;
  readonly after: Observation;
  /** Why the step failed; null when it did not. */
  readonly error: string | null;
  /** The host runtime's one-line note about images, shown with the first start. */
  readonly imageNotice: string | null;
  /** What a start that succeeded has to say (its SSH port changed, or it has none): shown for that run. */
  readonly note?: string | null;
}

export interface RecordAfterLook {
  readonly status: InstanceStatus;
  readonly statusMsg: string | null;
  readonly exitCode: number | null;
  /** A launch succeeded (it counts as a start even if the workload already ended). */
  readonly started: boolean;
}

/**
 * What to record after a look at an instance (and a step, if one was taken): the status from
 * `outcomeOf` and the message rules that keep what earlier looks said. The reconciler writes this;
 * the host sweep uses it to tell that a plain look would write nothing (`sweep.ts`).
 */
export function recordAfterLook(inst: RecordedInstance, l: Look): RecordAfterLook {
  const { step, after, error } = l;
  const out = outcomeOf(inst, after, inst);
  const starting = step === 'start' || step === 'restart' || step === 'recycle';
  const started = starting && error === null && after.state !== 'absent';
  let msg = error === null ? out.message : starting ? `${FAILED_START}${error}` : out.status === 'failed' ? `${step} failed: ${error}` : out.message;
  // A stop's reason (no credit, outbid) stays shown, also at later looks at the stopped instance, and so
  // does why an instance waits for GPUs.
  const stillStopped = step === 'none' && inst.status === 'stopped' && out.status === 'stopped';
  const waiting = inst.gpuWaitSince !== undefined && inst.gpuWaitSince !== null;
  // Not a message of the stop's own failure: once the stop completes, that is no longer true.
  const reason = inst.statusMsg !== null && !inst.statusMsg.startsWith(HOST_OFFLINE) && !inst.statusMsg.endsWith(STILL_RUNNING) ? inst.statusMsg : null;
  if ((step === 'stop' || stillStopped || waiting) && msg === null) msg = reason;
  // A start that failed leaves nothing that ran (or a stale exit record): later looks at the same state
  // keep the start's own reason instead of replacing it with a guess ("exit code unknown").
  if (step === 'none' && out.status === inst.status && out.exitCode === inst.exitCode && inst.statusMsg?.startsWith(FAILED_START) === true)
    msg = inst.statusMsg;
  const notice = l.imageNotice;
  if (started && l.note !== undefined && l.note !== null) msg = msg === null ? l.note : `${l.note}; ${msg}`;
  if (started && inst.startDate === null && notice !== null) msg = msg === null ? notice : `${notice}; ${msg}`;
  // A message something else wrote while the instance runs (a copy's progress, a refused start) stays until
  // the instance changes: a plain look would only say again that onstart exited, and replace the newer news.
  const ours = inst.statusMsg === null || inst.statusMsg.startsWith(ONSTART_EXITED) || (notice !== null && inst.statusMsg.startsWith(notice));
  if (step === 'none' && !started && out.status === 'running' && inst.status === 'running' && !ours) msg = inst.statusMsg;
  if (!started && out.status === 'running' && inst.status === 'running' && inst.statusMsg !== null) {
    // Keep what the first start said (the image notice) for the rest of that run.
    const kept = notice !== null && inst.statusMsg.startsWith(notice) ? notice : null;
    if (msg === null) msg = inst.statusMsg;
    else if (kept !== null && !msg.startsWith(kept)) msg = `${kept}; ${msg}`;
  }
  return { status: out.status, statusMsg: msg, exitCode: out.exitCode, started };
}
