import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { ControlContext } from '../context.js';

/** How many failures in a row before the instance's status message says why nothing happens. */
const SHOWN_AFTER = 3;

/**
 * Looks at an instance that keep failing (the host answers, but its runtime cannot: a container engine
 * that is down, a disk that errors). Each failure keeps the instance's lease a while longer, doubling up
 * to `reconcileRetryMaxMs`, so the row is tried again later instead of at once in a loop, on every replica
 * alike; after a few, its status message names the reason; a stop or destroy that has failed for longer
 * than `stepTimeoutMs` is recorded `failed` with it (and is still retried: it may yet complete).
 */
export class LookFailures {
  /** Per instance: failures in a row for one intent (its generation), since when, the last one, and the message shown. */
  readonly #rows = new Map<number, { generation: number; count: number; since: number; last: number; shown: string | null }>();

  /** A look that worked and wrote `shown` as the status message: one of the failures' messages kept there is cleared. */
  async succeeded(ctx: ControlContext, id: number, shown: string | null): Promise<void> {
    const row = this.#rows.get(id);
    if (row === undefined) return;
    this.#rows.delete(id);
    if (shown !== null && shown === row.shown) await ctx.store.setStatusMsg(id, null);
  }

  /** Record a failed look (`#failed`), and whether the lease is kept: not when the failure could not be recorded (the caller releases it then). */
  kept(ctx: ControlContext, owner: string, inst: InstanceRecord, err: unknown, since?: number): Promise<boolean> {
    return this.#failed(ctx, owner, inst, err, since).then(
      () => true,
      () => false,
    );
  }

  /**
   * Record a failed look; its lease is kept until the next try is due (not released). `since`: when the failing
   * try began (a stop sent without a look first may have held its whole bound before its look failed too).
   */
  async #failed(ctx: ControlContext, owner: string, inst: InstanceRecord, err: unknown, since?: number): Promise<void> {
    const now = ctx.clock.now();
    // Another intent, or failures far apart (a look that worked in between went another way: the host sweep), start anew.
    const apart = 2 * ctx.settings.reconcileRetryMaxMs + ctx.settings.leaseMs;
    let row = this.#rows.get(inst.id);
    if (row === undefined || row.generation !== inst.generation || now - row.last > apart) {
      row = { generation: inst.generation, count: 0, since: Math.min(now, since ?? now), last: now, shown: row?.shown ?? null };
    }
    row.count++;
    row.last = now;
    this.#rows.set(inst.id, row);
    if (this.#rows.size > 1_000) for (const [id, r] of this.#rows) if (now - r.last > apart) this.#rows.delete(id);
    const reason = err instanceof Error ? err.message : String(err);
    const log = ctx.log.child({ instanceId: inst.id, failures: row.count });
    // The first failure, then every power of two: a host that stays broken is not a log line per second.
    if ((row.count & (row.count - 1)) === 0) log.error({ err }, 'reconcile failed; will retry');
    const ending = inst.target !== 'running';
    const token = inst.leaseToken as string;
    if (ending && inst.status !== 'failed' && now - row.since > ctx.settings.stepTimeoutMs) {
      const step = inst.target === 'deleted' ? 'destroy' : 'stop';
      const statusMsg = `${step} failed: ${reason}`;
      const write = { status: 'failed' as const, statusMsg, exitCode: null, pendingOpDone: false, now };
      // The intent stays pending (retried), so the write keeps the message it had: the reason is set apart.
      if (await ctx.store.applyObservation(inst.id, token, { ...write, observedGeneration: inst.observedGeneration })) {
        ctx.store.changes.publish('instance-status', inst.id); // a new status, as every recorded one is told
        await ctx.store.setStatusMsg(inst.id, (row.shown = statusMsg));
        ctx.metrics.instanceTransitions.inc({ to: 'failed' });
        log.warn({ reason }, `${step} could not complete within stepTimeoutMs; recorded failed, still retried`);
      }
    } else if (row.count === SHOWN_AFTER && inst.status !== 'failed' && (ending || inst.status !== 'running')) {
      // Only while something is to be done: a message on an instance at rest would outlive the problem.
      await ctx.store.setStatusMsg(inst.id, (row.shown = `the host cannot act on it now: ${reason} (retrying)`));
    }
    const delay = Math.min(ctx.settings.reconcileRetryMaxMs, 250 * 2 ** Math.min(row.count - 1, 20));
    await ctx.store.extendLeases(owner, [inst.id], now + delay);
  }
}
