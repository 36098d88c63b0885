import type { ControlContext } from '../context.js';
import { actOnWorker, type WorkerInfo } from './workers.js';
import { beginDrain, drainProgress, drainRanOut, drainsOf, liftFence } from './worker-drain.js';
import type { EndpointRecord, WorkergroupRecord } from '../../domain/serverless/records.js';
import { COMING_PHASES } from '../../domain/serverless/workers.js';

/**
 * A rolling restart in place (a code deployment's `soft_update`, decision 020): the workers of a
 * group whose workload downloads the current code at each start are restarted one at a time on
 * their own instance and disk, instead of being replaced. For each: no new request is routed to it
 * (requests wait in the gateway's queue, or `/route/` answers "no worker yet"), the requests in it
 * finish, then the engine's reboot runs the onstart again, the bootstrap fetches the version that is
 * current now, and the next worker waits until it reports ready again (the drain: worker-drain.ts).
 */

/** When the worker's workload last started: a restart in place keeps its instance (createdAt) and moves this. */
const startedAt = (w: WorkerInfo): number => w.instance.startDate ?? w.instance.createdAt;
const onItsWay = (w: WorkerInfo): boolean => w.instance.pendingOp !== null || COMING_PHASES.has(w.phase);

export interface RestartStep {
  /** A worker of the group is drained, restarting or loading again: its held requests are no demand for new workers. */
  readonly restarting: boolean;
  readonly statusMsg: string | null;
}

/** One pass of a group's restart in place (update-workers.ts chose it); `mine`: the group's live workers. */
export async function restartStep(ctx: ControlContext, ep: EndpointRecord, wg: WorkergroupRecord, mine: readonly WorkerInfo[]): Promise<RestartStep> {
  const before = wg.workersOutdatedBefore ?? 0;
  const byGroup = drainsOf(ctx, 'restart');
  const old = mine.filter((w) => startedAt(w) < before && w.phase === 'ready');
  const d = byGroup.get(wg.id);
  const w = d === undefined ? undefined : mine.find((x) => x.instance.id === d.workerId);
  const log = ctx.log.child({ endpointId: ep.id, workergroupId: wg.id });
  if (d !== undefined && w === undefined) byGroup.delete(wg.id);
  if (d !== undefined && w !== undefined) {
    const id = w.instance.id;
    const left = `restarting the workers of workergroup ${wg.id} in place: ${old.length} left`;
    if (d.rebootAsked) {
      if (onItsWay(w)) return { restarting: true, statusMsg: `${left} (worker ${id} is loading the current code)` };
      // Back (ready on the current code), or broken by its new start: the failure watch counts that one, as any start that fails.
      byGroup.delete(wg.id);
      liftFence(ctx, ep, id);
      log.info({ instanceId: id, phase: w.phase }, w.phase === 'ready' ? 'worker restarted in place' : 'worker restarted in place did not become ready');
    } else {
      const p = drainProgress(ctx, ep, w, d);
      if (!p.drained && !p.late) return { restarting: true, statusMsg: `${left} (draining worker ${id}: ${p.inFlight} request(s) in flight)` };
      if (!p.drained) drainRanOut(ctx, ep, id, p.inFlight, 'restarted in place by an update');
      if (w.phase === 'ready') await actOnWorker(ctx, ep, id, 'reboot');
      d.rebootAsked = true;
      ctx.traffic.invalidate(ep.id);
      return { restarting: true, statusMsg: `${left} (worker ${id} restarting)` };
    }
  }
  const waiting = mine.find(onItsWay);
  if (waiting !== undefined)
    return { restarting: false, statusMsg: `restarting the workers of workergroup ${wg.id} in place: worker ${waiting.instance.id} is on its way` };
  const next = old[0];
  if (next === undefined) {
    await ctx.store.updateWorkergroup(wg.id, { workersOutdatedBefore: null });
    log.info('restart of workers in place complete');
    return { restarting: false, statusMsg: null };
  }
  byGroup.set(wg.id, beginDrain(ctx, ep, next.instance.id));
  log.info({ instanceId: next.instance.id, left: old.length }, 'draining a worker to restart it in place');
  return { restarting: true, statusMsg: `restarting the workers of workergroup ${wg.id} in place: draining worker ${next.instance.id}` };
}
