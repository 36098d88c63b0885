import type { Observation } from '../../domain/instance/reconcile.js';
import type { ObservedWorkload } from '../../domain/instance/sweep.js';
import type { HostListing } from './hosts.js';

/**
 * What an agent answers that the control plane records, read strictly: a host's agent may be anyone's program
 * (the host owner's), so an answer is taken for what it must be, or not at all.
 */

/** Reads an observing `list` answer; anything but a well-formed observation per entry counts as bare ids. */
export function asListing(v: unknown): HostListing {
  const entries = Array.isArray(v) ? (v as unknown[]) : [];
  const ids: number[] = [];
  const observed: ObservedWorkload[] = [];
  let bare = false;
  for (const e of entries) {
    const id = typeof e === 'object' && e !== null ? (e as { id?: unknown }).id : e;
    if (typeof id !== 'number' || !Number.isSafeInteger(id)) continue;
    ids.push(id);
    const observation = typeof e === 'object' && e !== null ? asObservation(e) : null;
    if (observation === null) bare = true;
    else observed.push({ id, observation });
  }
  return { ids, observed: bare ? null : observed };
}

/** The store keeps exit codes in 32 bits: a code past them (no process exits with one) reads as unknown. */
const MAX_CODE = 2 ** 31 - 1;
const codeOrNull = (x: unknown): number | null | undefined =>
  x === null || x === undefined ? x : typeof x === 'number' && Number.isInteger(x) ? (Math.abs(x) <= MAX_CODE ? x : null) : undefined;

/**
 * What a look or a step answered: an observation, or a plain failure. A host is not trusted to put text or
 * an object where the renter's exit code goes (its status_msg quotes it), nor a state the reconciler has no rule for.
 */
export function observed(op: string, v: unknown): Observation {
  const o = typeof v === 'object' && v !== null ? asObservation(v) : null;
  if (o === null) throw new Error(`the agent answered "${op}" without an observation`);
  return o;
}

function asObservation(e: object): Observation | null {
  const o = e as { state?: unknown; exitCode?: unknown; onstartExitCode?: unknown };
  switch (o.state) {
    case 'absent':
      return { state: 'absent' };
    case 'exited': {
      const exitCode = codeOrNull(o.exitCode);
      return exitCode === undefined ? null : { state: 'exited', exitCode };
    }
    case 'running': {
      if (o.onstartExitCode === undefined) return { state: 'running' };
      const onstartExitCode = codeOrNull(o.onstartExitCode);
      return onstartExitCode === undefined ? null : { state: 'running', onstartExitCode };
    }
    default:
      return null;
  }
}
