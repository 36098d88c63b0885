import { failureSummary, type WorkerFailures } from '../../domain/serverless/dead.js';
import type { ControlContext } from '../context.js';
import { retireGroup } from './deployment-changes.js';
import { actOnWorker, type WorkerInfo } from './workers.js';
import type { DeploymentRecord, EndpointRecord, WorkergroupRecord } from '../../domain/serverless/records.js';

export interface RolloutStep {
  /** The workergroup new workers are recruited into: the newest. */
  readonly recruitInto: WorkergroupRecord | undefined;
  /** The newest workergroup has no live worker yet: recruit one now, whatever the autoscaler wants. */
  readonly needsWorker: boolean;
  readonly statusMsg: string | null;
}

/** A worker counts as busy while any gateway of this replica or the worker itself reports work. */
function idle(ctx: ControlContext, ep: EndpointRecord, w: WorkerInfo): boolean {
  const mine = ctx.traffic.workerLoad(ep.id).get(w.instance.id);
  return (mine?.inFlight ?? 0) === 0 && (w.report?.numRequestsWorking ?? 0) === 0;
}

/**
 * One step of a change of configuration, run by the serverless loop on a running endpoint. The
 * newest workergroup is the one wanted; older ones serve until one of its workers is ready. Then
 * routing goes to the new workers only (routing.ts), and each old worker is destroyed once it holds
 * no request, so no request fails. When the last old worker is gone the old groups are removed and
 * the deployment's running configuration moves on.
 *
 * `routedEarlier`: routing already went to the newest group at an earlier pass. Old workers are
 * retired only then: in the pass that switches, a gateway may still hold a worker list from before
 * (reused for workerDirectoryMs, shorter than a pass interval) and send a request to an old worker
 * after it was found idle, which its destruction would fail.
 */
export async function rolloutStep(
  ctx: ControlContext,
  ep: EndpointRecord,
  d: DeploymentRecord | undefined,
  groups: readonly WorkergroupRecord[],
  workers: readonly WorkerInfo[],
  routedEarlier: boolean,
): Promise<RolloutStep> {
  const next = groups[groups.length - 1];
  const now = ctx.clock.now();
  if (next === undefined) return { recruitInto: undefined, needsWorker: false, statusMsg: null };
  const ready = (g: WorkergroupRecord): boolean => workers.some((w) => w.instance.workergroupId === g.id && w.phase === 'ready');
  if (groups.length === 1) {
    // The first configuration (or the one a failed change fell back to) reached running.
    if (d !== undefined && next.revision !== null && d.runningSourceId !== next.revision && ready(next)) {
      await ctx.store.updateDeployment(d.id, { runningSourceId: next.revision, now });
    }
    const msg = d?.rolloutError != null ? d.rolloutError : null;
    return { recruitInto: next, needsWorker: false, statusMsg: msg };
  }
  const old = groups.slice(0, -1);
  const oldWorkers = workers.filter((w) => w.instance.workergroupId !== next.id);
  if (!ready(next)) {
    const live = workers.some((w) => w.instance.workergroupId === next.id && w.phase !== 'error' && w.phase !== 'destroying');
    return { recruitInto: next, needsWorker: !live, statusMsg: `starting configuration ${next.revision ?? next.id}; the current one serves meanwhile` };
  }
  const rolling = { recruitInto: next, needsWorker: false, statusMsg: `rolling over to configuration ${next.revision ?? next.id}` };
  // Routing switches now (gateways read the worker list again); old workers go from the next pass on.
  ctx.traffic.invalidate(ep.id);
  if (!routedEarlier) return rolling;
  for (const w of oldWorkers) if (w.instance.target !== 'deleted' && idle(ctx, ep, w)) await actOnWorker(ctx, ep, w.instance.id, 'destroy');
  if (oldWorkers.every((w) => w.instance.target === 'deleted' || idle(ctx, ep, w))) {
    for (const g of old) await ctx.store.deleteWorkergroup(g.id, now);
    if (d !== undefined) await ctx.store.updateDeployment(d.id, { runningSourceId: next.revision, rolloutError: null, now });
    ctx.log.info({ endpointId: ep.id, revision: next.revision }, 'configuration change complete');
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
