import { isGantryError } from '../../domain/errors.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { Observation, RuntimeStep } from '../../domain/instance/reconcile.js';
import type { ControlContext } from '../context.js';
import type { HostLink } from '../hosts/hosts.js';
import { startWorkload } from './start-workload.js';

/**
 * Carry out one runtime step; returns the observation after it, what went wrong, and what a start has to say
 * besides (its SSH port changed: start-workload.ts). The link bounds the
 * step (stepTimeoutMs), not this loop: only it knows whether the agent took the step (STEP_TIMEOUT, a
 * failed step) or is gone (HOST_UNAVAILABLE), so a second timer here would only race it.
 */
export async function performStep(
  ctx: ControlContext,
  host: HostLink,
  inst: InstanceRecord,
  step: RuntimeStep,
  before: Observation,
  /** Whether `before` is a look; not for a stop planned without one (reconcile.ts `assumedObservation`). */
  looked = true,
): Promise<{ after: Observation; error: string | null; note?: string | null }> {
  const stop = { graceMs: ctx.settings.stopGraceMs };
  const attempt = async (p: Promise<Observation>): Promise<{ after: Observation; error: string | null }> => {
    try {
      return { after: await p, error: null };
    } catch (err) {
      // A host that went away is not a failed step: record nothing, the row is looked at again later.
      if (isGantryError(err) && err.code === 'HOST_UNAVAILABLE') throw err;
      // Truth after a failed step comes from a fresh look, not from what we hoped happened. A step taken with no
      // look before it (a running instance's stop) whose look fails too met a runtime that cannot answer: that
      // is a failed look, tried again within its bound (counted from the pass's start) as one before the step
      // would have been, with the step's own reason when it held its whole bound (STEP_TIMEOUT).
      const after = await host.inspect(inst.id).catch((lookErr: unknown) => {
        if (looked) return before;
        throw isGantryError(err) && err.code === 'STEP_TIMEOUT' ? err : lookErr;
      });
      return { after, error: err instanceof Error ? err.message : String(err) };
    }
  };
  const start = async (): Promise<{ after: Observation; error: string | null; note?: string | null }> => {
    let note: string | null = null;
    const r = await attempt(
      startWorkload(ctx, host, inst)
        .then((n) => void (note = n))
        .then(() => host.inspect(inst.id)),
    );
    return { ...r, note };
  };
  switch (step) {
    case 'none':
      return { after: before, error: null };
    case 'start':
      return start();
    case 'stop':
      return attempt(host.stop(inst.id, stop));
    case 'destroy': {
      const r = await attempt(host.destroy(inst.id, stop));
      if (r.after.state === 'absent') await ctx.store.revokeInstanceKeys(inst.id, ctx.clock.now());
      return r;
    }
    case 'restart':
    case 'recycle': {
      const stopped = await attempt(host.stop(inst.id, stop));
      if (stopped.after.state === 'running') return { after: stopped.after, error: stopped.error ?? 'the old processes did not stop' };
      if (step === 'recycle') {
        // A wipe that hangs or fails is a failed step too (recorded with its reason), not a retry forever.
        const wiped = await attempt(host.wipeDisk(inst.id).then(() => host.inspect(inst.id)));
        if (wiped.error !== null) return { after: wiped.after, error: `disk wipe failed: ${wiped.error}` };
      }
      return start();
    }
  }
}
