import { recordAfterLook } from '../../domain/instance/observed-record.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { ControlContext } from '../context.js';
import { lookWrite, told } from './look-record.js';
import type { SweptLooks } from './swept-looks.js';
import type { UnwrittenLooks } from './unwritten-looks.js';

/** Handed-over rows recorded together: one claim, one transaction, grouped lease releases. */
export const SWEPT_BATCH = 500;

export interface SweptBatch {
  /** Rows recorded from the sweep's observation (written or found unchanged). */
  readonly recorded: number;
  /** Claimed rows whose look no longer holds (the row moved on, a hint came): the caller looks at them, lease held. */
  readonly inspect: InstanceRecord[];
  /** Ids the claim did not get (another replica's lease, a row locked a moment, destroyed). */
  readonly missed: number[];
}

/**
 * Record many rows the host sweep handed over from what it saw (decision 017), as the per-instance path
 * would after a plain look, without a round trip to the host per row: the rows are claimed with a lease in
 * one statement (only those ids), each look is checked against the claimed row (`SweptLooks.take`), the
 * records (`recordAfterLook`, the same rule and the same write as a look) go out in one transaction, and
 * the leases are released together. A look that no longer holds is left to the caller to inspect.
 */
export async function recordSwept(
  ctx: ControlContext,
  owner: string,
  ids: readonly number[],
  looks: SweptLooks,
  unwritten: UnwrittenLooks,
): Promise<SweptBatch> {
  const s = ctx.settings;
  const now = ctx.clock.now();
  const rows = await ctx.store.claimInstances({
    dueIds: ids,
    onlyDue: true,
    owner,
    now,
    leaseMs: s.leaseMs,
    observeBefore: now - s.observeIntervalMs,
    limit: ids.length,
    // No list of connected machines: these rows come from hosts this replica just swept (checked below, one
    // by one), and each candidate row need not be matched against every connected machine's id.
  });
  const claimed = new Set(rows.map((r) => r.id));
  const inspect: InstanceRecord[] = [];
  const done: InstanceRecord[] = [];
  const writes: { inst: InstanceRecord; write: NonNullable<ReturnType<typeof lookWrite>> }[] = [];
  try {
    // One time for every record of the batch: the meters that close are charged up to it together.
    const at = ctx.clock.now();
    for (const inst of rows) {
      const host = ctx.hosts.get(inst.machineId);
      const obs = host === undefined ? null : looks.take(inst, at, s.observationMaxAgeMs);
      if (host === undefined || obs === null) {
        inspect.push(inst);
        continue;
      }
      done.push(inst);
      const rec = recordAfterLook(inst, { step: 'none', after: obs, error: null, imageNotice: host.imageNotice });
      // An exit this replica saw before, whose record failed to be written, is recorded at that time.
      const write = unwritten.apply(inst, lookWrite(inst, 'none', rec, at));
      if (write !== null) writes.push({ inst, write });
    }
    const token = rows[0]?.leaseToken as string; // one claim, one token
    const ok =
      writes.length === 0
        ? []
        : await ctx.store
            .applyObservations(
              token,
              writes.map((w) => ({ id: w.inst.id, write: w.write })),
            )
            .catch((err: unknown) => {
              for (const w of writes) unwritten.failed(w.inst, w.write);
              throw err;
            });
    writes.forEach((w, i) => {
      if (ok[i] === true) told(ctx, w.inst, w.write);
    });
    if (done.length > 0) ctx.metrics.reconcileSteps.inc({ step: 'none' }, done.length);
  } catch (err) {
    // Nothing is left to the caller: the rows it would inspect are released too, and looked at again later.
    done.push(...inspect.splice(0));
    throw err;
  } finally {
    // Released whether or not the records went out: a row left unrecorded is handed over again by the next sweep.
    await Promise.all(done.map((inst) => ctx.store.releaseLease(inst.id, inst.leaseToken as string, ctx.clock.now()).catch(() => undefined)));
  }
  return { recorded: done.length, inspect, missed: ids.filter((id) => !claimed.has(id)) };
}
