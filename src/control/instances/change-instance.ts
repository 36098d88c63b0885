import { GantryError } from '../../domain/errors.js';
import { decideIntent, type InstanceAction } from '../../domain/instance/intent.js';
import type { ControlContext } from '../context.js';
import { requireCredit } from '../billing/billing.js';
import { changeEach, type BulkItemResult } from '../bulk.js';
import { compareAndSet, GENERATION_MOVED } from '../cas.js';
import { authorizeInstance, type Principal } from '../principal.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';

/** Start (of a running instance: nothing to do), stop and destroy are what an instance's own key may do too; reboot and recycle need an account key. */
const ACTION: Readonly<Record<InstanceAction, 'instance.change' | 'instance.manage'>> = {
  start: 'instance.change',
  stop: 'instance.change',
  destroy: 'instance.change',
  reboot: 'instance.manage',
  recycle: 'instance.manage',
};

export interface ChangeResult {
  readonly instance: InstanceRecord;
  /** False for an idempotent repeat (nothing was written). */
  readonly changed: boolean;
}

/**
 * Write a user's intent (start, stop, destroy, reboot, recycle). The decision is the domain's; the
 * write is a compare-and-set on the generation, so concurrent requests never lose one another.
 * Answers as soon as the intent is durable; the reconciler carries it out. `reason` is shown in
 * status_msg (the reconciler keeps a stop's reason through the stop).
 */
export async function changeInstance(ctx: ControlContext, p: Principal, id: number, action: InstanceAction, reason?: string): Promise<ChangeResult> {
  const attempt = async (): Promise<ChangeResult | typeof GENERATION_MOVED> => {
    const inst = authorizeInstance(p, await ctx.store.getInstance(id), id, ACTION[action]);
    // A stopped instance runs nothing that holds its key: only a copy of it could ask (its host reads the
    // workload's environment), and a start would resume billing its owner chose to end.
    if (action === 'start' && p.scope === 'instance' && inst.target !== 'running') {
      throw new GantryError('FORBIDDEN', `An instance key cannot start its instance once it is stopped; start it with an account key.`, { instanceId: id });
    }
    const change = decideIntent(inst, action);
    if (change === null) return { instance: inst, changed: false };
    // A reserved instance's compute is paid from its deposit while one is left: the balance does not hold it back (billing-loop.ts).
    if (action === 'start' && inst.deposit <= 0) await requireCredit(ctx, p);
    // Stopped instances gave their GPUs back; starting asks for the very same ones again.
    const acquireGpus = action === 'start' && inst.target === 'stopped';
    let written: boolean;
    try {
      written = await ctx.store.writeIntent(id, inst.generation, {
        ...change,
        acquireGpus,
        statusMsg: reason ?? (acquireGpus || action === 'stop' ? null : undefined),
        now: ctx.clock.now(),
      });
    } catch (err) {
      if (err instanceof GantryError && err.code === 'GPUS_UNAVAILABLE') await ctx.store.setStatusMsg(id, err.message);
      throw err;
    }
    if (!written) return GENERATION_MOVED;
    ctx.log.info({ instanceId: id, action, from: `${inst.target}/${inst.status}`, to: change.target, generation: inst.generation + 1 }, 'instance intent');
    // With its id: the reconciler's next look inspects it, and an endpoint resting on it as a cold worker wakes.
    ctx.wake(id);
    return { instance: (await ctx.store.getInstance(id)) as InstanceRecord, changed: true };
  };
  return compareAndSet(
    attempt,
    () => new GantryError('ILLEGAL_TRANSITION', `Instance ${id} is being changed by other requests right now; try again.`, { instanceId: id }),
  );
}

export { MAX_BULK_ITEMS, type BulkItemResult } from '../bulk.js';

/** One result per item; one item's refusal does not undo the others. */
export async function bulkChangeInstances(ctx: ControlContext, p: Principal, ids: readonly number[], action: InstanceAction): Promise<BulkItemResult[]> {
  return changeEach(ids, 'instance', (id) => changeInstance(ctx, p, id, action));
}
