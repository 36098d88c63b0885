import { GantryError } from '../../domain/errors.js';
import { matchIds, parseIdExpression } from '../../domain/ml/models.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { stopDeploymentAndWait, type StopOutcome } from '../serverless/stop-and-wait.js';
import { pipelinesByAlias } from './aliases.js';
import { mlDeployments, notFound, type MlDeployment } from './deployments.js';
import { pipelinesReferencing } from './pipelines.js';

export interface StopMlRequest {
  readonly deploymentId: string;
  readonly allowNoMatch: boolean;
  readonly force: boolean;
  readonly finishPendingWork: boolean;
  /** Gantry's extension: `*`, `_all`, `a*` stop every matching deployment. */
  readonly expandWildcards: boolean;
  /** Bound on the drain when finishing pending work; null: the engine's. */
  readonly drainTimeoutMs: number | null;
  /** Bound on the whole call. */
  readonly timeoutMs: number;
}

export interface StopMlResult {
  readonly stopped: readonly string[];
  readonly drained: number;
  readonly failed: number;
  readonly rejected: number;
}

/**
 * Elasticsearch's synchronous stop (reference B3): unless forced, refused while ingest pipelines name
 * the deployment id, or an alias of the model whose id is the deployment id (TransportStopTrainedModelDeploymentAction
 * checks only these: a second deployment `qf` of model `m` stops while pipelines name `m`). The
 * deployment is deleted when its workers are gone.
 */
export async function stopMlDeployment(ctx: ControlContext, p: Principal, r: StopMlRequest): Promise<StopMlResult> {
  authorize(p, 'ml.write');
  const all = await mlDeployments(ctx, p);
  let picked: MlDeployment[];
  if (r.expandWildcards) {
    const m = matchIds(
      parseIdExpression(r.deploymentId),
      all.map((d) => d.deploymentId),
    );
    const ids = new Set(m.ids);
    picked = all.filter((d) => ids.has(d.deploymentId));
  } else {
    picked = all.filter((d) => d.deploymentId === r.deploymentId);
  }
  if (picked.length === 0) {
    if (!r.allowNoMatch) throw notFound(r.deploymentId);
    return { stopped: [], drained: 0, failed: 0, rejected: 0 };
  }
  if (!r.force) {
    for (const d of picked) {
      const refs = await pipelinesReferencing(ctx, p.accountId, d.deploymentId);
      if (refs.length > 0) {
        throw new GantryError(
          'MODEL_IN_USE',
          `Cannot stop deployment [${d.deploymentId}] as it is referenced by ingest processors [${refs.join(', ')}]; use force to stop the deployment`,
          { deploymentId: d.deploymentId, pipelines: refs },
        );
      }
      // The same check for the aliases of the model the deployment id names (none when it names no model), naming the alias.
      const [byAlias] = await pipelinesByAlias(ctx, p.accountId, d.deploymentId);
      if (byAlias !== undefined) {
        throw new GantryError(
          'MODEL_IN_USE',
          `Cannot stop deployment [${d.deploymentId}] as it has a model_alias [${byAlias.alias}] that is still referenced by ingest processors; use force to stop the deployment`,
          { deploymentId: d.deploymentId, alias: byAlias.alias, pipelines: byAlias.pipelines },
        );
      }
    }
  }
  let drained = 0;
  let failed = 0;
  let rejected = 0;
  for (const d of picked) {
    const out: StopOutcome | null = await stopDeploymentAndWait(
      ctx,
      p,
      d.view.deployment.id,
      { finishPendingWork: r.finishPendingWork, force: r.force, timeoutMs: r.drainTimeoutMs, rejectQueued: true },
      { timeoutMs: r.timeoutMs, delete: true },
    ).catch((err: unknown) => {
      // Gone while this stop ran: a stop of the same deployment sent at the same time finished first, and its
      // answer carries the counts. This one answers as a stop of a deployment already gone does (stopped).
      if (err instanceof GantryError && (err.code === 'ENDPOINT_NOT_FOUND' || err.code === 'DEPLOYMENT_NOT_FOUND')) return null;
      throw err;
    });
    if (out === null) continue;
    drained += out.drained;
    failed += out.failed;
    rejected += out.rejected;
    ctx.log.info({ accountId: p.accountId, deploymentId: d.deploymentId, ...out, endpoint: undefined }, 'trained model deployment stopped');
  }
  return { stopped: picked.map((d) => d.deploymentId), drained, failed, rejected };
}
