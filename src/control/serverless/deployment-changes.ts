import { GantryError } from '../../domain/errors.js';
import { decideEndpoint } from '../../domain/serverless/lifecycle.js';
import { replicaParams } from '../../domain/serverless/params.js';
import { changeEach, type BulkItemResult } from '../bulk.js';
import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import type { StopRequest } from './change-endpoint.js';
import { deleteDeployment, ownDeployment, showDeployment, stopDeployment, type DeploymentRef, type DeploymentView } from './deployments.js';
import { loadOwnEndpoint } from './endpoints.js';
import { createWorkergroup, type TemplateInput } from './workergroups.js';
import { actOnWorker, workersOf } from './workers.js';
import type { DeploymentSource, EndpointRecord, WorkergroupRecord } from '../../domain/serverless/records.js';

/** A configuration made concrete: what it is (the source) and what its workers run. */
export interface DeploymentSpec {
  readonly source: DeploymentSource;
  readonly template: TemplateInput;
}

/**
 * Serve another configuration without a failed request: a workergroup for it is created beside the
 * serving one; the serverless loop routes to its workers once one is ready, then retires the old
 * workers when they hold no request (serverless-loop.ts, `rollout`). Naming the configuration that
 * serves now takes back a change under way (a rollback). Allowed while pending or running.
 */
export async function reconfigureDeployment(ctx: ControlContext, p: Principal, ref: DeploymentRef, spec: DeploymentSpec): Promise<DeploymentView> {
  const d = await ownDeployment(ctx, p, ref, 'serverless.write');
  const ep = await loadOwnEndpoint(ctx, p, d.endpointId);
  decideEndpoint(ep, 'reconfigure');
  const groups = await ctx.store.listWorkergroups({ endpointId: ep.id });
  const serving = groups[0];
  if (serving === undefined) throw new GantryError('WORKERGROUP_NOT_FOUND', `Deployment ${d.uid} has no workergroup to change.`);
  // A change under way is given up for the new one (or for the serving configuration: a rollback).
  for (const g of groups.slice(1)) await retireGroup(ctx, ep, g);
  if (spec.source.configurationId !== serving.revision) {
    await createWorkergroup(
      ctx,
      p,
      ep.id,
      { template: spec.template, placement: serving.placement, launchArgs: null, gpuRamGb: serving.gpuRamGb, testWorkers: serving.testWorkers },
      spec.source.configurationId,
    );
  }
  const now = ctx.clock.now();
  await ctx.store.updateDeployment(d.id, { source: spec.source, rolloutError: null, lastOperation: 'update', now });
  await ctx.store.updateEndpointConfig(ep.id, { params: { ...ep.params, ...replicaParams(spec.source) }, now });
  ctx.traffic.invalidate(ep.id);
  ctx.log.info(
    { deploymentId: d.id, configurationId: spec.source.configurationId, rollback: spec.source.configurationId === serving.revision },
    'deployment reconfigured',
  );
  return showDeployment(ctx, p, { id: d.id });
}

/** Destroy a workergroup's workers and remove it. */
export async function retireGroup(ctx: ControlContext, ep: EndpointRecord, g: WorkergroupRecord): Promise<void> {
  for (const w of await workersOf(ctx, ep.id))
    if (w.instance.workergroupId === g.id && w.instance.target !== 'deleted') await actOnWorker(ctx, ep, w.instance.id, 'destroy');
  await ctx.store.deleteWorkergroup(g.id, ctx.clock.now());
}

export interface DeploymentItem {
  readonly uid: string;
  readonly action: 'stop' | 'delete';
}

/**
 * Stop and delete many deployments of one resource group in one call (AI Core's bulk PATCH): at most
 * 100 items, each id once, or nothing is applied; then one result per item, and one item's refusal
 * does not undo the others. A stop drains (finishes what was accepted) like a single stop.
 */
export async function changeDeployments(
  ctx: ControlContext,
  p: Principal,
  resourceGroup: string,
  items: readonly DeploymentItem[],
  stop: StopRequest,
): Promise<BulkItemResult<string>[]> {
  const actions = new Map(items.map((i) => [i.uid, i.action]));
  return changeEach(
    items.map((i) => i.uid),
    'deployment',
    (uid) =>
      actions.get(uid) === 'stop'
        ? stopDeployment(ctx, p, { uid, resourceGroup }, stop)
        : deleteDeployment(ctx, p, { uid, resourceGroup }, { force: false, stopFirst: false }),
  );
}
