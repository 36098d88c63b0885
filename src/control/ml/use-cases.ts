import { createHmac } from 'node:crypto';
import type { VocabularyRecord } from '../../domain/ml/records.js';
import type { DefinitionPart } from '../../domain/ml/models.js';
import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import * as aliases from './aliases.js';
import * as deployments from './deployments.js';
import * as models from './models.js';
import * as pipelines from './pipelines.js';
import * as stats from './stats.js';
import * as stop from './stop.js';
import { workerModel, workerModelDefinition, type WorkerCredentials } from './worker-model.js';

/** The trained-model and ingest-pipeline use cases bound to one context: what the Elasticsearch dialect calls. */
export function mlUseCases(ctx: ControlContext) {
  return {
    putTrainedModel: (p: Principal, r: models.NewModelRequest) => models.putTrainedModel(ctx, p, r),
    putDefinitionPart: (p: Principal, modelId: string, part: DefinitionPart) => models.putDefinitionPart(ctx, p, modelId, part),
    putVocabulary: (p: Principal, modelId: string, v: VocabularyRecord) => models.putVocabulary(ctx, p, modelId, v),
    listTrainedModels: (p: Principal, q: models.ModelQuery) => models.listTrainedModels(ctx, p, q),
    deleteTrainedModel: (p: Principal, modelId: string, o: { force: boolean; timeoutMs: number }) => models.deleteTrainedModel(ctx, p, modelId, o),
    putModelAlias: (p: Principal, r: { modelId: string; alias: string; reassign: boolean }) => aliases.putModelAlias(ctx, p, r),
    deleteModelAlias: (p: Principal, modelId: string, alias: string) => aliases.deleteModelAlias(ctx, p, modelId, alias),

    startDeployment: (p: Principal, r: deployments.StartRequest) => deployments.startMlDeployment(ctx, p, r),
    updateDeployment: (p: Principal, id: string, u: { allocations: number | null; adaptive: deployments.AdaptivePatch | 'reset' | null }) =>
      deployments.updateMlDeployment(ctx, p, id, u),
    deployment: (p: Principal, id: string) => deployments.mlDeployment(ctx, p, id),
    deployments: (p: Principal) => deployments.mlDeployments(ctx, p),
    inferenceTarget: (p: Principal, id: string) => deployments.inferenceTarget(ctx, p, id),
    stopDeployment: (p: Principal, r: stop.StopMlRequest) => stop.stopMlDeployment(ctx, p, r),
    stats: (p: Principal, q: { ids: string | null; allowNoMatch: boolean; from: number; size: number }) => stats.mlStats(ctx, p, q),

    putPipeline: (p: Principal, id: string, body: unknown) => pipelines.putPipeline(ctx, p, id, body),
    getPipelines: (p: Principal, ids: string | null) => pipelines.getPipelines(ctx, p, ids),
    simulatedPipeline: (p: Principal, id: string | null, inline: unknown) => pipelines.simulatedPipeline(ctx, p, id, inline),
    deletePipelines: (p: Principal, ids: string) => pipelines.deletePipelines(ctx, p, ids),

    /** An inference worker's model, authenticated by its instance id and MASTER_TOKEN. */
    workerModel: (c: WorkerCredentials) => workerModel(ctx, c),
    workerModelDefinition: (c: WorkerCredentials) => workerModelDefinition(ctx, c),

    /** The installation's cluster identity for `GET /`: derived from the server secret, so every replica and every restart answers the same. */
    clusterUuid: (): string => createHmac('sha256', ctx.secret).update('elastic:cluster_uuid').digest('base64url').slice(0, 22),
  };
}

export type MlUseCases = ReturnType<typeof mlUseCases>;
