import { GantryError } from '../../domain/errors.js';
import type { TrainedModelRecord } from '../../domain/ml/records.js';
import type { ControlContext } from '../context.js';
import { isWorkerToken, modelGrant } from '../keys.js';
import { definitionChunks, modelNotFound } from './models.js';

/** The instance env variable that names the model an inference worker serves (set in its workergroup's template). */
export const MODEL_ENV = 'GANTRY_MODEL_ID';
/** The instance env variable holding `modelGrant` for that model and deployment (written by `_start`). */
export const MODEL_GRANT_ENV = 'GANTRY_MODEL_GRANT';

export interface WorkerCredentials {
  /** The worker's instance id (its CONTAINER_ID). */
  readonly instanceId: number;
  /** Its MASTER_TOKEN. */
  readonly token: string;
}

/** The worker's model, checked as /worker_status/ checks a report: a live worker instance with its own token. */
async function workerModelRecord(ctx: ControlContext, c: WorkerCredentials): Promise<TrainedModelRecord> {
  const inst = Number.isSafeInteger(c.instanceId) ? await ctx.store.getInstance(c.instanceId) : undefined;
  if (!inst || inst.endpointId === null || inst.status === 'destroyed' || !isWorkerToken(ctx.secret, inst.id, c.token)) {
    throw new GantryError('UNAUTHENTICATED', 'Unknown worker or wrong token: send x-gantry-worker-id (CONTAINER_ID) and x-gantry-worker-token (MASTER_TOKEN).');
  }
  const modelId = inst.env[MODEL_ENV];
  if (modelId === undefined || modelId === '') {
    throw new GantryError('MODEL_NOT_FOUND', `This worker's instance has no ${MODEL_ENV} in its environment: it serves no trained model.`);
  }
  const ep = await ctx.store.getEndpoint(inst.endpointId);
  if (ep === undefined || inst.env[MODEL_GRANT_ENV] !== modelGrant(ctx.secret, inst.accountId, ep.name, modelId)) {
    throw new GantryError('FORBIDDEN', `This worker was not started by a trained-model deployment of [${modelId}]; only their workers may download it.`, {
      modelId,
    });
  }
  const m = await ctx.store.getTrainedModel(inst.accountId, modelId);
  if (m === undefined) throw modelNotFound(modelId);
  if (!m.fullyDefined || m.totalParts === null || m.totalDefinitionLength === null) {
    throw new GantryError('MODEL_DEFINITION_MISSING', `Could not find trained model definition [${modelId}]: it is not fully defined.`, { modelId });
  }
  return m;
}

/** What an inference worker needs besides the bytes: the task, the input field and the vocabulary. */
export async function workerModel(ctx: ControlContext, c: WorkerCredentials): Promise<{ model: TrainedModelRecord; vocabulary: readonly string[] }> {
  const model = await workerModelRecord(ctx, c);
  const v = await ctx.store.getVocabulary(model.accountId, model.modelId);
  return { model, vocabulary: v?.vocabulary ?? [] };
}

/** The definition's bytes in order, pulled from the store one part at a time as the reader consumes them. */
export async function workerModelDefinition(ctx: ControlContext, c: WorkerCredentials): Promise<{ totalLength: number; chunks: AsyncIterable<Uint8Array> }> {
  const m = await workerModelRecord(ctx, c);
  return { totalLength: m.totalDefinitionLength ?? 0, chunks: definitionChunks(ctx.store, m.accountId, m.modelId, m.totalParts ?? 0) };
}
