import { GantryError } from '../../domain/errors.js';
import { decideEndpoint } from '../../domain/serverless/lifecycle.js';
import { changeEach, type BulkItemResult } from '../bulk.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import type { StopRequest } from './change-endpoint.js';
import {
  asDeployment,
  deleteDeployment,
  ownDeployment,
  showDeployment,
  stopDeployment,
  type DeploymentRef,
  type DeploymentScope,
  type DeploymentView,
} from './deployments.js';
import { loadOwnEndpoint } from './endpoints.js';
import { buildTemplate, createWorkergroup, type TemplateInput } from './workergroups.js';
import { actOnWorker, workersOf } from './workers.js';
import type { DeploymentSource, EndpointRecord, WorkergroupRecord } from '../../domain/serverless/records.js';

/** A configuration made concrete: what it is (the source) and what its workers run. */
export interface DeploymentSpec {
  readonly source: DeploymentSource;
  readonly template: TemplateInput;
}

/**
 * Serve another configuration without a failed request. This records the wish and adds a
 * workergroup for the configuration beside the serving one (unless one exists); the serverless
 * loop, holding the endpoint's lease, does the rest (`planRollout`, rollout.ts): routes to the new
 * workers once one is ready, retires the old ones when they hold no request, and gives up groups
 * no longer wanted. Naming the configuration that serves takes back a change under way (a
 * rollback). Allowed while pending or running, for a deployment made from a configuration.
 */
export async function reconfigureDeployment(ctx: ControlContext, p: Principal, ref: DeploymentRef, spec: DeploymentSpec): Promise<DeploymentView> {
  const d = await ownDeployment(ctx, p, ref, 'serverless.write');
  if (d.source === null) {
    throw new GantryError('INVALID_ARGUMENT', `Deployment ${d.uid} was made from a template, not a configuration; change its workergroup instead.`, {
      field: 'configurationId',
    });
  }
  const ep = await loadOwnEndpoint(ctx, p, d.endpointId);
  // Refused as the deployment's, by the id its caller used: the endpoint's own id means nothing to that caller.
  await asDeployment(d, ref, async () => decideEndpoint(ep, 'reconfigure'));
  const groups = await ctx.store.listWorkergroups({ endpointId: ep.id });
  const serving = groups[0];
  if (serving === undefined) throw new GantryError('WORKERGROUP_NOT_FOUND', `Deployment ${d.uid} has no workergroup to change.`);
  const wanted = spec.source.configurationId;
  const input = { template: spec.template, placement: serving.placement, launchArgs: null, gpuRamGb: serving.gpuRamGb, testWorkers: serving.testWorkers };
  // A template that cannot run is refused before anything is written.
  buildTemplate(input);
  // The wish first, then the group: the serverless loop reads groups before the deployment, so it
  // never sees the new group without the wish and retires it as given up (serverless-loop.ts).
  await ctx.store.updateDeployment(d.id, { source: spec.source, rolloutError: null, lastOperation: 'update', now: ctx.clock.now() });
  if (!groups.some((g) => g.revision === wanted)) {
    try {
      await createWorkergroup(ctx, p, ep.id, input, { revision: wanted });
    } catch (err) {
      // The group could not be stored: the deployment goes on wanting what it wanted before.
      await ctx.store.updateDeployment(d.id, { source: d.source, rolloutError: d.rolloutError, lastOperation: d.lastOperation, now: ctx.clock.now() });
      throw err;
    }
  }
  ctx.traffic.invalidate(ep.id);
  // A rollback to a group it has adds none (whose creation tells): the wish alone must reach the loop, which may let it rest.
  ctx.endpointSignal.intent(ep.id);
  ctx.log.info({ deploymentId: d.id, configurationId: wanted, rollback: wanted === serving.revision }, 'deployment reconfigured');
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
 * Stop and delete many deployments of one scope in one call (AI Core's bulk PATCH): at most
 * 100 items, each id once, or nothing is applied; then one result per item, and one item's refusal
 * does not undo the others. A stop drains (finishes what was accepted) like a single stop. AI Core's
 * table applies: an item that would change nothing is refused.
 */
export async function changeDeployments(
  ctx: ControlContext,
  p: Principal,
  scope: DeploymentScope,
  items: readonly DeploymentItem[],
  stop: StopRequest,
): Promise<BulkItemResult<string>[]> {
  // A key that may not change deployments is refused as a whole, before the items are looked at.
  authorize(p, 'serverless.write');
  const actions = new Map(items.map((i) => [i.uid, i.action]));
  return changeEach(
    items.map((i) => i.uid),
    'deployment',
    (uid) =>
      actions.get(uid) === 'stop'
        ? stopDeployment(ctx, p, { ...scope, uid }, stop, { strict: true })
        : deleteDeployment(ctx, p, { ...scope, uid }, { force: false, stopFirst: false, strict: true }),
  );
}
