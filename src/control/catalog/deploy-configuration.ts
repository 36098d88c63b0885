import type { ControlContext } from '../context.js';
import type { DeploymentRecord, DeploymentSource } from '../../domain/serverless/records.js';
import { authorize, type Principal } from '../principal.js';
import type { DeploymentSpec } from '../serverless/deployment-changes.js';
import { reconfigureDeployment } from '../serverless/deployment-changes.js';
import { createDeployment, type DeploymentRef, type DeploymentView } from '../serverless/deployments.js';
import { renderConfiguration, type RenderedConfiguration } from './render-configuration.js';

/** A rendered configuration as the deployment engine takes it: what it is, and what its workers run. */
function specOf(r: RenderedConfiguration): DeploymentSpec {
  return {
    source: {
      configurationId: r.configurationId,
      configurationName: r.configurationName,
      executableId: r.executableId,
      scenarioId: r.scenarioId,
      model: r.model,
      resourcePlan: r.resourcePlan,
      minReplicas: r.minReplicas,
      maxReplicas: r.maxReplicas,
    },
    template: r.template,
  };
}

/** Deploy a configuration of the resource group (AI Core's POST /lm/deployments): the configuration is checked now, the rest is the serverless loop's. */
export async function deployConfiguration(
  ctx: ControlContext,
  p: Principal,
  r: { readonly resourceGroup: string; readonly configurationId: string; readonly ttl: string | null },
): Promise<DeploymentView> {
  authorize(p, 'serverless.write');
  const spec = specOf(await renderConfiguration(ctx, p, r.resourceGroup, r.configurationId));
  return createDeployment(ctx, p, {
    name: null,
    tag: null,
    // Its replicas are its worker bounds (set from the source); no cold reserve beyond them.
    params: { coldWorkers: 0, minColdLoad: 0 },
    template: spec.template,
    placement: null,
    launchArgs: null,
    gpuRamGb: null,
    testWorkers: 0,
    resourceGroup: r.resourceGroup,
    source: spec.source,
    ttl: r.ttl,
  });
}

/** Serve another configuration of the deployment's resource group (AI Core's PATCH configurationId), rolling workers over. */
export async function deployOtherConfiguration(
  ctx: ControlContext,
  p: Principal,
  ref: DeploymentRef & { readonly resourceGroup: string },
  configurationId: string,
): Promise<DeploymentView> {
  authorize(p, 'serverless.write');
  return reconfigureDeployment(ctx, p, ref, specOf(await renderConfiguration(ctx, p, ref.resourceGroup, configurationId)));
}

/**
 * What a deployment serves while it differs from what it is meant to (a change of configuration under way,
 * or given up): the running configuration's model and resource plan, which AI Core's resolvers read;
 * null when they are the same, or the running one cannot be read.
 */
export async function servingSource(
  ctx: ControlContext,
  p: Principal,
  d: Pick<DeploymentRecord, 'source' | 'runningSourceId' | 'resourceGroup'>,
): Promise<Pick<DeploymentSource, 'model' | 'resourcePlan'> | null> {
  if (d.source === null || d.runningSourceId === null || d.runningSourceId === d.source.configurationId) return null;
  const r = await renderConfiguration(ctx, p, d.resourceGroup, d.runningSourceId).catch(() => null);
  return r === null ? null : { model: r.model, resourcePlan: r.resourcePlan };
}
