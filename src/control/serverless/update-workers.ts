import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import { ownWorkergroup } from './workergroups.js';
import { actOnWorker, workersOf, type WorkerInfo } from './workers.js';
import type { EndpointRecord, WorkergroupRecord } from '../../domain/serverless/records.js';
import { madeFromTemplate, workerUpdateMethod } from '../../domain/serverless/code-deployment.js';
import { COMING_PHASES } from '../../domain/serverless/workers.js';
import { runsBootstrap } from './code-worker.js';
import { restartStep } from './restart-workers.js';
import { beginDrain, drainingWorkers, drainProgress, drainRanOut, drainsOf, endDrains } from './worker-drain.js';

const live = (w: WorkerInfo): boolean => w.instance.target !== 'deleted';
const outdated = (wg: WorkergroupRecord, w: WorkerInfo): boolean =>
  w.instance.workergroupId === wg.id && live(w) && wg.workersOutdatedBefore !== null && w.instance.createdAt < wg.workersOutdatedBefore;

/** How the group's update goes (the domain's table): in place when every worker of it loads its code at start and is what the template makes now. */
const methodOf = (wg: WorkergroupRecord, mine: readonly WorkerInfo[]): 'restart' | 'replace' =>
  mine.length > 0 &&
  mine.every(
    (w) => workerUpdateMethod({ loadsCodeAtStart: runsBootstrap(w.instance), madeFromTemplate: madeFromTemplate(wg.template, w.instance) }) === 'restart',
  )
    ? 'restart'
    : 'replace';

/**
 * Vast's `update workers`: replace every worker of the workergroup with one made from its template
 * as it is now. The intent is written here (workers created before now are outdated); the serverless
 * loop carries it out one worker at a time (`updateWorkersStep`). Answers how many workers it replaces.
 */
export async function updateWorkers(ctx: ControlContext, p: Principal, id: number): Promise<{ workersToUpdate: number }> {
  const wg = await ownWorkergroup(ctx, p, id, 'serverless.write');
  const now = ctx.clock.now();
  const mine = (await workersOf(ctx, wg.endpointId)).filter((w) => w.instance.workergroupId === id && live(w));
  await ctx.store.updateWorkergroup(id, { workersOutdatedBefore: now });
  ctx.log.info({ workergroupId: id, workers: mine.length }, 'rolling update of workers requested');
  ctx.endpointSignal.intent(wg.endpointId);
  return { workersToUpdate: mine.length };
}

/** Stop a rolling update: workers already replaced stay new, the others stay as they are. */
export async function cancelWorkerUpdate(ctx: ControlContext, p: Principal, id: number): Promise<{ wasUpdating: boolean }> {
  const wg = await ownWorkergroup(ctx, p, id, 'serverless.write');
  if (wg.workersOutdatedBefore === null) return { wasUpdating: false };
  await ctx.store.updateWorkergroup(id, { workersOutdatedBefore: null });
  ctx.log.info({ workergroupId: id }, 'rolling update of workers cancelled');
  return { wasUpdating: true };
}

export interface UpdateStep {
  /** Recruit one new worker into this group now (its outdated worker is the only one serving). */
  readonly recruitInto: WorkergroupRecord | null;
  readonly statusMsg: string | null;
  /** A worker is restarted in place (drained, restarting, or loading again): the autoscaler adds none for the requests it holds back. */
  readonly restarting: boolean;
}

/**
 * One step of the rolling updates of an endpoint's workergroups, run by the serverless loop under
 * the endpoint's lease. Outdated workers that serve nothing (inactive, failed) go at once; a serving
 * one only while another worker serves, so capacity stays (while it is the only ready worker a new
 * worker is recruited first), and drained first: routed around, then destroyed once the requests in it
 * finished (or the drain timeout passed). One at a time: while a new worker of the
 * group is on its way, nothing else is replaced. The autoscaler recruits the replacements, from the
 * template as it is now. When no outdated worker is left the update is over. A group whose workers
 * load their code at start and are what its template makes now (a code deployment's `soft_update`)
 * is restarted in place instead (restart-workers.ts).
 */
export async function updateWorkersStep(
  ctx: ControlContext,
  ep: EndpointRecord,
  groups: readonly WorkergroupRecord[],
  workers: readonly WorkerInfo[],
): Promise<UpdateStep> {
  let recruitInto: WorkergroupRecord | null = null;
  let statusMsg: string | null = null;
  let restarting = false;
  const gone = new Set<number>();
  for (const wg of groups) {
    if (wg.workersOutdatedBefore === null) {
      endDrains(ctx, ep, wg.id);
      continue;
    }
    const mine = workers.filter((w) => w.instance.workergroupId === wg.id && live(w));
    if (methodOf(wg, mine) === 'restart') {
      const r = await restartStep(ctx, ep, wg, mine);
      restarting ||= r.restarting;
      statusMsg = r.statusMsg ?? statusMsg;
      continue;
    }
    const old = workers.filter((w) => outdated(wg, w));
    if (old.length === 0) {
      await ctx.store.updateWorkergroup(wg.id, { workersOutdatedBefore: null });
      ctx.log.info({ workergroupId: wg.id }, 'rolling update of workers complete');
      continue;
    }
    statusMsg = `updating the workers of workergroup ${wg.id}: ${old.length} left`;
    for (const w of old) if (w.phase !== 'ready' && !COMING_PHASES.has(w.phase)) await actOnWorker(ctx, ep, w.instance.id, 'destroy');
    const serving = old.filter((w) => w.phase === 'ready');
    // Capacity that stays: ready workers no drain routes around (of any group) and not destroyed in this pass.
    const draining = drainingWorkers(ctx);
    const routable = workers.filter((w) => live(w) && w.phase === 'ready' && !draining.has(w.instance.id) && !gone.has(w.instance.id));
    const freshComing = workers.some((w) => w.instance.workergroupId === wg.id && live(w) && !outdated(wg, w) && COMING_PHASES.has(w.phase));
    const r = await replaceStep(ctx, ep, wg, serving, routable, freshComing);
    if (r.destroyed !== null) gone.add(r.destroyed);
    if (r.recruit) recruitInto = wg;
    statusMsg = r.statusMsg ?? statusMsg;
  }
  return { recruitInto, statusMsg, restarting };
}

interface ReplaceStep {
  readonly statusMsg: string | null;
  /** No other worker serves: recruit a new one into the group first. */
  readonly recruit: boolean;
  /** The worker destroyed (drained) in this step. */
  readonly destroyed: number | null;
}

/**
 * The group's replacement, one worker at a time: drain one serving outdated worker (an idle one first)
 * while another worker serves, and destroy it once drained. A drain under way goes on while a new worker
 * is on its way (its fence must not lapse); a new one begins only when none is. `routable`: the ready
 * workers no drain routes around.
 */
async function replaceStep(
  ctx: ControlContext,
  ep: EndpointRecord,
  wg: WorkergroupRecord,
  serving: readonly WorkerInfo[],
  routable: readonly WorkerInfo[],
  freshComing: boolean,
): Promise<ReplaceStep> {
  const byGroup = drainsOf(ctx, 'replace');
  const d = byGroup.get(wg.id);
  const w = d === undefined ? undefined : serving.find((x) => x.instance.id === d.workerId);
  if (d !== undefined && w === undefined) byGroup.delete(wg.id);
  const idle = { statusMsg: null, recruit: false, destroyed: null };
  if (d !== undefined && w !== undefined) {
    if (routable.length === 0) {
      // Nothing else serves (the new worker failed): the drained worker serves again, and a new one is recruited (unless on its way).
      endDrains(ctx, ep, wg.id);
      return { ...idle, recruit: !freshComing };
    }
    const p = drainProgress(ctx, ep, w, d);
    if (!p.drained && !p.late)
      return { ...idle, statusMsg: `updating the workers of workergroup ${wg.id}: draining worker ${w.instance.id} (${p.inFlight} request(s) in flight)` };
    if (!p.drained) drainRanOut(ctx, ep, w.instance.id, p.inFlight, 'replaced by an update');
    await actOnWorker(ctx, ep, w.instance.id, 'destroy');
    byGroup.delete(wg.id);
    // The fence stays until it expires: the gateway must not route to the worker before its list shows it gone.
    ctx.traffic.invalidate(ep.id);
    return { ...idle, destroyed: w.instance.id };
  }
  if (freshComing || serving.length === 0) return idle;
  const load = ctx.traffic.workerLoad(ep.id);
  const isIdle = (x: WorkerInfo): boolean => (load.get(x.instance.id)?.inFlight ?? 0) === 0 && (x.report?.numRequestsWorking ?? 0) === 0;
  const next = serving.find(isIdle) ?? serving[0]!;
  if (!routable.some((x) => x.instance.id !== next.instance.id)) return { ...idle, recruit: true };
  byGroup.set(wg.id, beginDrain(ctx, ep, next.instance.id));
  ctx.log.info({ endpointId: ep.id, workergroupId: wg.id, instanceId: next.instance.id }, 'draining an outdated worker to replace it');
  return { ...idle, statusMsg: `updating the workers of workergroup ${wg.id}: draining worker ${next.instance.id}` };
}
