import type { TrainedModelRecord } from '../../domain/ml/records.js';
import { matchIds, parseIdExpression, unmatchedIds } from '../../domain/ml/models.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { inferenceStats, type WorkerInferenceStats } from '../serverless/inference-stats.js';
import type { InferenceCounters } from '../serverless/traffic-gate.js';
import { mlDeployments, type MlDeployment } from './deployments.js';
import { modelNotFound } from './models.js';
import { pipelinesByAlias } from './aliases.js';
import { pipelinesReferencing } from './pipelines.js';

export interface MlStatsEntry {
  readonly model: TrainedModelRecord;
  readonly pipelineCount: number;
  readonly deployment: MlDeployment | null;
  readonly counters: InferenceCounters | null;
  readonly workers: readonly WorkerInferenceStats[];
}

/** Elasticsearch's _stats: one entry per deployment plus one per model without one; `count` is the number of models. */
export async function mlStats(
  ctx: ControlContext,
  p: Principal,
  q: { readonly ids: string | null; readonly allowNoMatch: boolean; readonly from: number; readonly size: number },
): Promise<{ count: number; entries: MlStatsEntry[] }> {
  authorize(p, 'ml.read');
  const models = await ctx.store.listTrainedModels(p.accountId);
  const deployments = await mlDeployments(ctx, p);
  const e = parseIdExpression(q.ids);
  const names = [...models.map((m) => m.modelId), ...deployments.map((d) => d.deploymentId)];
  const m = matchIds(e, [...new Set(names)]);
  const unmatched = unmatchedIds(e, [...new Set(names)], q.allowNoMatch);
  if (unmatched.length > 0) throw modelNotFound(unmatched.join(','));
  const hit = new Set(m.ids);
  // A deployment id names its model too.
  const pickedModels = models.filter((x) => hit.has(x.modelId) || deployments.some((d) => d.modelId === x.modelId && hit.has(d.deploymentId)));
  const entries: MlStatsEntry[] = [];
  for (const model of pickedModels.slice(q.from, q.from + q.size)) {
    // Pipelines naming the model by id or by one of its aliases.
    const byAlias = (await pipelinesByAlias(ctx, p.accountId, model.modelId)).flatMap((a) => a.pipelines);
    const pipelineCount = new Set([...(await pipelinesReferencing(ctx, p.accountId, model.modelId)), ...byAlias]).size;
    const own = deployments.filter((d) => d.modelId === model.modelId);
    if (own.length === 0) entries.push({ model, pipelineCount, deployment: null, counters: null, workers: [] });
    for (const d of own) {
      const s = await inferenceStats(ctx, p, d.view.deployment.id);
      entries.push({ model, pipelineCount, deployment: d, counters: s.deployment, workers: s.workers });
    }
  }
  return { count: pickedModels.length, entries };
}
