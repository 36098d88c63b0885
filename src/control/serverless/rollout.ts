import { failureSummary, type WorkerFailures } from '../../domain/serverless/dead.js';
import type { ControlContext } from '../context.js';
import { retireGroup } from './deployment-changes.js';
import type { RolloutPlan } from '../../domain/serverless/rollout.js';
import { replicaParams } from '../../domain/serverless/params.js';
import { holdsPlace } from '../../domain/serverless/workers.js';
import { actOnWorker, type WorkerInfo } from './workers.js';
import type { DeploymentRecord, EndpointRecord, WorkergroupRecord } from '../../domain/serverless/records.js';

export interface RolloutStep {
  /** The workergroup new workers are recruited into (the wanted one); undefined: spread over every group (an endpoint with no configuration). */
  readonly recruitInto: WorkergroupRecord | undefined;
  /** The wanted workergroup has no live worker yet: recruit one now, whatever the autoscaler wants. */
  readonly needsWorker: boolean;
  readonly statusMsg: string | null;
}

/** A worker counts as busy while any gateway of this replica or the worker itself reports work. */
function idle(ctx: ControlContext, ep: EndpointRecord, w: WorkerInfo): boolean {
  const mine = ctx.traffic.workerLoad(ep.id).get(w.instance.id);
  return (mine?.inFlight ?? 0) === 0 && (w.report?.numRequestsWorking ?? 0) === 0;
}

/**
 * One step of a change of configuration, run by the serverless loop (holding the endpoint's lease)
 * on a running deployment, after it retired the groups the plan gives up (`planRollout`). The
 * serving group serves until a worker of the target group is ready. Then routing goes to the new
 * workers only (routing.ts), and each old worker is destroyed once it holds no request, so no
 * request fails. When the last old worker is gone the old group is removed, the running
 * configuration moves on, and the worker bounds become the new configuration's.
 *
 * `routedEarlier`: routing already went to the target group at an earlier pass. Old workers are
 * retired only then: in the pass that switches, a gateway may still hold a worker list from before
 * (reused for workerDirectoryMs, shorter than a pass interval) and send a request to an old worker
 * after it was found idle, which its destruction would fail.
 */
export async function rolloutStep(
  ctx: ControlContext,
  ep: EndpointRecord,
  d: DeploymentRecord | undefined,
  plan: RolloutPlan<WorkergroupRecord>,
  workers: readonly WorkerInfo[],
  routedEarlier: boolean,
): Promise<RolloutStep> {
  const { serving, target } = plan;
  const now = ctx.clock.now();
  if (serving === undefined || d === undefined || d.source === null) return { recruitInto: undefined, needsWorker: false, statusMsg: null };
  const ready = (g: WorkergroupRecord): boolean => workers.some((w) => w.instance.workergroupId === g.id && w.phase === 'ready');
  if (target === null) {
    // The configuration that serves reached running: it is the running one, and its bounds apply.
    if (serving.revision === d.source.configurationId && ready(serving)) {
      if (d.runningSourceId !== serving.revision) await ctx.store.updateDeployment(d.id, { runningSourceId: serving.revision, now });
      const bounds = replicaParams(d.source);
      if (Object.entries(bounds).some(([k, v]) => ep.params[k as keyof typeof bounds] !== v)) {
        await ctx.store.updateEndpointConfig(ep.id, { params: { ...ep.params, ...bounds }, now });
      }
    }
    // A change given up (its group retired) leaves the reason until the next change.
    return { recruitInto: serving, needsWorker: false, statusMsg: serving.revision !== d.source.configurationId ? d.rolloutError : null };
  }
  const oldWorkers = workers.filter((w) => w.instance.workergroupId !== target.id);
  if (!ready(target)) {
    const live = workers.some((w) => w.instance.workergroupId === target.id && holdsPlace(w));
    return { recruitInto: target, needsWorker: !live, statusMsg: `starting configuration ${target.revision ?? target.id}; the current one serves meanwhile` };
  }
  const rolling = { recruitInto: target, needsWorker: false, statusMsg: `rolling over to configuration ${target.revision ?? target.id}` };
  // Routing switches now (gateways read the worker list again); old workers go from the next pass on.
  ctx.traffic.invalidate(ep.id);
  if (!routedEarlier) return rolling;
  for (const w of oldWorkers) if (w.instance.target !== 'deleted' && idle(ctx, ep, w)) await actOnWorker(ctx, ep, w.instance.id, 'destroy');
  if (oldWorkers.every((w) => w.instance.target === 'deleted' || idle(ctx, ep, w))) {
    await ctx.store.deleteWorkergroup(serving.id, now);
    await ctx.store.updateDeployment(d.id, { runningSourceId: target.revision, rolloutError: null, now });
    ctx.log.info({ endpointId: ep.id, revision: target.revision }, 'configuration change complete');
  }
  ctx.traffic.invalidate(ep.id);
  return rolling;
}

/**
 * A change whose workers cannot start is given up: its workergroup goes, the old one keeps serving, and the deployment says why.
 * The message names what still serves before the failures' detail, since AI Core cuts status messages at 256 characters.
 */
export async function abandonRollout(
  ctx: ControlContext,
  ep: EndpointRecord,
  d: DeploymentRecord | undefined,
  next: WorkergroupRecord,
  failures: WorkerFailures,
): Promise<string> {
  await retireGroup(ctx, ep, next);
  const summary = failureSummary(failures);
  const msg = (
    `configuration ${next.revision ?? next.id} could not start, still serving ${d?.runningSourceId ?? 'the previous configuration'}: ` +
    `${failures.count} worker failure(s)${summary !== '' ? `; ${summary}` : ''}`
  ).slice(0, 256);
  if (d !== undefined) await ctx.store.updateDeployment(d.id, { rolloutError: msg, now: ctx.clock.now() });
  ctx.traffic.invalidate(ep.id);
  ctx.log.warn({ endpointId: ep.id, revision: next.revision, failures: failures.count }, 'configuration change given up');
  return msg;
}
