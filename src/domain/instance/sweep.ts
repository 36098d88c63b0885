import { recordAfterLook, type RecordedInstance } from './observed-record.js';
import { planReconcile, type Observation } from './reconcile.js';
import type { InstanceStatus } from './status.js';

/**
 * The host sweep (decision 017): one `list` per host returns every workload with what `inspect` would say,
 * and one read of the host's live instances is compared with it here. An instance whose plain look would
 * change nothing is at rest and costs nothing more; every other one is handed to the reconciler's
 * per-instance path, which claims it with its lease and acts exactly as before.
 */

/** One workload as the host's runtime shows it (the agent's observing `list`). */
export interface ObservedWorkload {
  readonly id: number;
  readonly observation: Observation;
}

/** A live instance of the host as the sweep reads it from the store. */
export interface SweptInstance extends RecordedInstance {
  readonly id: number;
  readonly machineId: number;
  readonly lastProcessedAt: number;
  /** Lease expiry; a row another look holds now is that look's business. */
  readonly leaseExpiresAt: number | null;
}

/**
 * Statuses of an instance in the middle of something (an interim status, a failed step, a host that went
 * silent): the per-instance path keeps looking at these by time, as it did at every row before the sweep.
 */
export const UNSETTLED_STATUSES = ['loading', 'rebooting', 'stopping', 'failed', 'unknown'] as const satisfies readonly InstanceStatus[];

/**
 * True when a plain look at `inst` seeing `obs` would take no step and record nothing: the reconciler's
 * "unchanged" (same status, message and exit code, every request carried out).
 */
export function isSettled(inst: RecordedInstance, obs: Observation, imageNotice: string | null): boolean {
  if (inst.generation !== inst.observedGeneration) return false;
  const plan = planReconcile(inst, obs);
  if (plan.step !== 'none' || plan.interim !== null) return false;
  const r = recordAfterLook(inst, { step: 'none', after: obs, error: null, imageNotice });
  return r.status === inst.status && r.statusMsg === inst.statusMsg && r.exitCode === inst.exitCode;
}

/**
 * The common case, decided by the store without handing the row to the sweep: an instance that should run,
 * is recorded running with no exit code, has every request carried out and does not wait for GPUs, is at
 * rest whenever the runtime shows it plainly running (`isSettled` holds for every such record: unit-tested).
 * At fleet scale nearly every row is this, and not reading them is what makes a pass cheap (decision 017).
 */
export const RESTING_RUNNING = { target: 'running', status: 'running' } as const satisfies Pick<RecordedInstance, 'target' | 'status'>;

/** Running with nothing more to say (no onstart exit to report): the observation `RESTING_RUNNING` rests on. */
export function plainlyRunning(o: Observation): boolean {
  return o.state === 'running' && (o.onstartExitCode === undefined || o.onstartExitCode === null);
}

export interface HostDiff {
  /** Instances the per-instance path must look at (claimed there with a lease). */
  readonly handOver: number[];
  /** Workloads the host runs that no live instance of it owns: candidates for the orphan removal. */
  readonly unknown: number[];
}

export interface DiffOptions {
  readonly now: number;
  readonly imageNotice: string | null;
  /** An old agent's bare id list has no observations: rows last looked at before this go to the per-instance path. */
  readonly observeBefore: number;
}

/**
 * Compare one host's workloads with its live instances. `listed` is null for an agent that answers with
 * bare ids (`ids` then says what runs): nothing can be vouched for, so every row due by time is handed over.
 * A workload missing from the listing is `absent`, as `inspect` would say. `live` is every live instance of
 * the host but those the store found resting (`RESTING_RUNNING` and listed plainly running), `resting` how
 * many those were.
 */
export function diffHost(
  ids: readonly number[],
  listed: readonly ObservedWorkload[] | null,
  live: readonly SweptInstance[],
  resting: number,
  o: DiffOptions,
): HostDiff {
  const seen = new Map<number, Observation>();
  for (const w of listed ?? []) seen.set(w.id, w.observation);
  const handOver: number[] = [];
  const known = new Set<number>();
  for (const inst of live) {
    known.add(inst.id);
    if (inst.leaseExpiresAt !== null && inst.leaseExpiresAt >= o.now) continue;
    if (listed === null) {
      if (inst.lastProcessedAt <= o.observeBefore) handOver.push(inst.id);
      continue;
    }
    if (!isSettled(inst, seen.get(inst.id) ?? { state: 'absent' }, o.imageNotice)) handOver.push(inst.id);
  }
  if (listed === null) return { handOver, unknown: ids.filter((id) => !known.has(id)) };
  // Listed plainly running and not among `live`: resting rows, or workloads no instance owns. When the
  // store's count covers them all, none is unknown; otherwise each is a candidate (the removal re-reads it).
  const unread = listed.filter((w) => !known.has(w.id) && plainlyRunning(w.observation)).map((w) => w.id);
  const others = listed.filter((w) => !known.has(w.id) && !plainlyRunning(w.observation)).map((w) => w.id);
  return { handOver, unknown: unread.length === resting ? others : [...others, ...unread] };
}
