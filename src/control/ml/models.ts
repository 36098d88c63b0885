import { GantryError } from '../../domain/errors.js';
import { checkModelContract, scanOnnx, type OnnxSummary } from '../../domain/ml/onnx-scan.js';
import { Vocabulary } from '../../domain/ml/tokenizer.js';
import {
  checkModelId,
  checkModelType,
  checkPart,
  definitionPartExists,
  definitionState,
  matchIds,
  modelNotFound,
  parseIdExpression,
  unmatchedIds,
  type DefinitionPart,
} from '../../domain/ml/models.js';
import type { PartsStamp, TrainedModelRecord, VocabularyRecord } from '../../domain/ml/records.js';
import { parseInferenceConfig } from '../../domain/ml/tasks.js';
import type { Store } from '../../store/store.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { aliasesByModel, pipelinesByAlias } from './aliases.js';
import { pipelinesReferencing } from './pipelines.js';
import { stopMlDeployment } from './stop.js';

/** A model as `PUT /_ml/trained_models/{id}` describes it (shapes checked by the dialect, rules here). */
export interface NewModelRequest {
  readonly modelId: string;
  readonly modelType: string;
  readonly inferenceConfig: unknown;
  readonly inputFieldNames: readonly string[];
  readonly description: string | null;
  readonly tags: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>> | null;
  readonly modelSizeBytes: number;
}

export { modelNotFound };

/**
 * The live deployments (their ids) that run a model: those whose workergroup template names it in
 * GANTRY_MODEL_ID (deployments.ts builds them so).
 */
export async function modelDeploymentIds(ctx: ControlContext, accountId: number, modelId: string): Promise<string[]> {
  const out: string[] = [];
  for (const d of await ctx.store.listDeployments(accountId, { resourceGroup: 'default' })) {
    const ep = await ctx.store.getEndpoint(d.endpointId);
    if (ep === undefined || ep.status === 'deleted') continue;
    const wg = await ctx.store.getWorkergroup(d.workergroupId);
    // The env key is worker-model.ts's MODEL_ENV (not imported: worker-model.ts imports this module).
    if (wg?.template.env.GANTRY_MODEL_ID === modelId) out.push(d.name);
  }
  return out;
}

export async function ownModel(ctx: ControlContext, p: Principal, modelId: string, action: 'ml.read' | 'ml.write'): Promise<TrainedModelRecord> {
  authorize(p, action);
  const m = await ctx.store.getTrainedModel(p.accountId, modelId);
  if (m === undefined) throw modelNotFound(modelId);
  return m;
}

export async function putTrainedModel(ctx: ControlContext, p: Principal, r: NewModelRequest): Promise<TrainedModelRecord> {
  authorize(p, 'ml.write');
  checkModelId(r.modelId);
  const modelType = checkModelType(r.modelType);
  parseInferenceConfig(r.inferenceConfig);
  if (r.inputFieldNames.length === 0)
    throw new GantryError('MISSING_INPUT', '[input.field_names] must name at least one field.', { field: 'input.field_names' });
  if ((await ctx.store.listModelAliases(p.accountId)).some((a) => a.alias === r.modelId)) {
    throw new GantryError(
      'INVALID_ARGUMENT',
      `requested model_id [${r.modelId}] is the same as existing model_alias. Model model_aliases and ids must be unique`,
      { field: 'model_id' },
    );
  }
  const config = {
    modelType,
    description: r.description,
    tags: r.tags,
    metadata: r.metadata,
    inferenceConfig: r.inferenceConfig as Record<string, unknown>,
    inputFieldNames: r.inputFieldNames,
    declaredSizeBytes: r.modelSizeBytes,
  };
  // Each model may hold up to a 16 GiB definition and a vocabulary: their count bounds what one account keeps.
  // An admin (the owner of a self-hosted Gantry) is not bound, as with the other per-account bounds.
  const max = p.isAdmin ? 0 : ctx.settings.maxTrainedModelsPerAccount;
  const m = await ctx.store.createTrainedModel({ accountId: p.accountId, modelId: r.modelId, config, now: ctx.clock.now(), max });
  ctx.log.info({ accountId: p.accountId, modelId: r.modelId }, 'trained model created');
  return m;
}

/** The definition's parts in order, read from the store one row at a time: never two parts in memory. */
export async function* definitionChunks(
  store: Pick<Store, 'readModelPart'>,
  accountId: number,
  modelId: string,
  totalParts: number,
): AsyncGenerator<Uint8Array> {
  for (let i = 0; i < totalParts; i++) {
    const bytes = await store.readModelPart(accountId, modelId, i);
    if (bytes === undefined)
      throw new GantryError('MODEL_DEFINITION_MISSING', `Part [${i}] of the definition of model [${modelId}] is missing.`, { modelId, part: i });
    yield bytes;
  }
}

/**
 * Store one part; once every part arrived and the lengths add up, stream them through the ONNX scan
 * and the model contract. Only a model that passes both is fully defined; one that fails answers the
 * scan's error and stays not fully defined (upload a corrected part to try again). A fully defined
 * model takes no part (the store refuses it, changing nothing): its deployments' workers load it.
 */
export async function putDefinitionPart(ctx: ControlContext, p: Principal, modelId: string, part: DefinitionPart): Promise<{ fullyDefined: boolean }> {
  await ownModel(ctx, p, modelId, 'ml.write');
  checkPart(part);
  const totals = { totalParts: part.totalParts, totalDefinitionLength: part.totalDefinitionLength };
  const limit = p.isAdmin ? 0 : ctx.settings.maxModelDefinitionBytesPerAccount;
  const now = ctx.clock.now();
  const r = await ctx.store.putModelPart(p.accountId, modelId, { index: part.index, ...totals, bytes: part.bytes }, { now, maxAccountBytes: limit });
  if (!r.ok) {
    if (r.reason === 'no-model') throw modelNotFound(modelId);
    if (r.reason === 'defined') throw definitionPartExists(modelId, part.index);
    if (r.reason === 'over-limit') {
      throw new GantryError(
        'MODEL_STORAGE_LIMIT',
        `Model [${modelId}] (total_definition_length [${part.totalDefinitionLength}], part [${part.index}] of ${part.bytes.length} bytes) would take ` +
          `the account's stored definitions past ${limit} bytes (${r.heldBytes} held); delete a model first.`,
        { modelId, part: part.index, limit, heldBytes: r.heldBytes },
      );
    }
    const m = await ctx.store.getTrainedModel(p.accountId, modelId);
    throw new GantryError(
      'MODEL_DEFINITION_INVALID',
      `total_parts [${part.totalParts}] and total_definition_length [${part.totalDefinitionLength}] differ from those of the parts already uploaded ` +
        `([${m?.totalParts ?? '?'}] and [${m?.totalDefinitionLength ?? '?'}]); delete the model to start over.`,
      { modelId, part: part.index },
    );
  }
  if (definitionState(r.progress, totals) === 'partial') return { fullyDefined: false };
  return { fullyDefined: await checkDefinition(ctx, p.accountId, modelId, part.totalParts, r.stamp) };
}

/**
 * Stream a model's whole definition through the ONNX scan and the model contract, and record the outcome. Only
 * a refusal of the definition itself is recorded as one, with the scan's reason (housekeeping forgets refused
 * parts): a check that could not read them back, or write its outcome, has none, and housekeeping checks it again
 * later. `stamp`: the parts it reads, as their last write left them; an outcome is recorded only while that holds
 * (a part replaced during a long check starts a check of its own, whose outcome is the one that counts). True:
 * recorded fully defined.
 */
export async function checkDefinition(ctx: ControlContext, accountId: number, modelId: string, totalParts: number, stamp: PartsStamp): Promise<boolean> {
  let readFailed = false;
  async function* parts(): AsyncGenerator<Uint8Array> {
    try {
      yield* definitionChunks(ctx.store, accountId, modelId, totalParts);
    } catch (err) {
      readFailed = true;
      throw err;
    }
  }
  let summary: OnnxSummary;
  try {
    summary = await scanOnnx(parts());
    checkModelContract(summary);
  } catch (err) {
    if (!readFailed) await ctx.store.setModelDefinitionChecked(accountId, modelId, { fullyDefined: false, onnx: null, refusal: refusalOf(err) }, stamp);
    throw err;
  }
  const recorded = await ctx.store.setModelDefinitionChecked(accountId, modelId, { fullyDefined: true, onnx: summary }, stamp);
  if (recorded) ctx.log.info({ accountId, modelId, parts: totalParts }, 'trained model fully defined');
  return recorded;
}

/** What the owner reads of a refusal: the scan's and the contract's own messages; anything else is not echoed (it is logged). */
function refusalOf(err: unknown): string {
  return err instanceof GantryError ? err.message : 'The ONNX check of the definition failed unexpectedly; upload a corrected part, or delete the model.';
}

export async function putVocabulary(ctx: ControlContext, p: Principal, modelId: string, v: VocabularyRecord): Promise<void> {
  await ownModel(ctx, p, modelId, 'ml.write');
  if (v.vocabulary.length === 0) throw new GantryError('INVALID_ARGUMENT', '[vocabulary] must hold at least one token.', { field: 'vocabulary' });
  // The workers' tokenizer needs BERT's special tokens: refuse here, not at every worker's start.
  new Vocabulary(v.vocabulary);
  if (v.scores !== null && v.scores.length !== v.vocabulary.length) {
    throw new GantryError(
      'INVALID_ARGUMENT',
      `[scores] has ${v.scores.length} entries but [vocabulary] has ${v.vocabulary.length}; give one score per token.`,
      {
        field: 'scores',
      },
    );
  }
  if (!(await ctx.store.putVocabulary(p.accountId, modelId, v))) throw modelNotFound(modelId);
}

export interface ModelQuery {
  /** csv of ids and `*` patterns, `_all` or `*`; null: all. */
  readonly ids: string | null;
  readonly allowNoMatch: boolean;
  readonly from: number;
  readonly size: number;
  /** Models must carry every one of these tags. */
  readonly tags: readonly string[];
}

/** Models by Elasticsearch's id rules: a missing explicit id is 404; a pattern matching nothing only with allow_no_match=false. */
export async function listTrainedModels(
  ctx: ControlContext,
  p: Principal,
  q: ModelQuery,
): Promise<{ count: number; models: TrainedModelRecord[]; aliases: Map<string, string[]> }> {
  authorize(p, 'ml.read');
  const all = await ctx.store.listTrainedModels(p.accountId);
  const aliases = await aliasesByModel(ctx, p.accountId);
  const byAlias = new Map([...aliases].flatMap(([modelId, as]) => as.map((a) => [a, modelId] as const)));
  const parsed = parseIdExpression(q.ids);
  // An exact id may be an alias: Elasticsearch answers it with the model it names.
  const e = { ...parsed, exact: parsed.exact.map((id) => byAlias.get(id) ?? id) };
  const m = matchIds(
    e,
    all.map((x) => x.modelId),
  );
  const unmatched = unmatchedIds(
    parsed,
    all.map((x) => x.modelId),
    q.allowNoMatch,
    (id) => byAlias.get(id) ?? id,
  );
  if (unmatched.length > 0) throw modelNotFound(unmatched.join(','));
  const picked = new Set(m.ids);
  const models = all.filter((x) => picked.has(x.modelId) && q.tags.every((t) => x.tags.includes(t)));
  return { count: models.length, models: models.slice(q.from, q.from + q.size), aliases };
}

/**
 * Delete a model with its parts, vocabulary and aliases: refused while deployed or referenced by a
 * pipeline (by id or alias), unless forced. Forced, its deployments are stopped first, as a forced
 * `_stop` does (queued requests refused), within `timeoutMs`; a stop that does not finish keeps the model.
 *
 * A start racing the delete is serialised by the store, on every replica: a deployment is written only
 * while its model's row is there (`servesModel`), under that row's lock. So once the model is deleted no
 * deployment of it can be written, and one written before is seen by a look after the delete: those a
 * start wrote after the look above are stopped then, so no deployment of a deleted model is left running.
 */
export async function deleteTrainedModel(ctx: ControlContext, p: Principal, modelId: string, o: { force: boolean; timeoutMs: number }): Promise<void> {
  await ownModel(ctx, p, modelId, 'ml.write');
  const deadline = ctx.clock.now() + o.timeoutMs; // one bound for all of the model's deployments
  if (o.force) {
    for (const deploymentId of await modelDeploymentIds(ctx, p.accountId, modelId)) await stopForDelete(ctx, p, deploymentId, deadline);
  } else {
    const deployments = await modelDeploymentIds(ctx, p.accountId, modelId);
    if (deployments.length > 0) {
      throw new GantryError(
        'MODEL_IN_USE',
        `Cannot delete model [${modelId}] as it is currently deployed in [${deployments.join(', ')}]; use force to delete the model`,
        {
          modelId,
          deployments,
        },
      );
    }
    const byAlias = (await pipelinesByAlias(ctx, p.accountId, modelId)).flatMap((a) => a.pipelines);
    const pipelines = [...new Set([...(await pipelinesReferencing(ctx, p.accountId, modelId)), ...byAlias])].sort();
    if (pipelines.length > 0) {
      throw new GantryError(
        'MODEL_IN_USE',
        `Cannot delete model [${modelId}] as it is still referenced by ingest processors [${pipelines.join(', ')}]; use force to delete the model`,
        { modelId, pipelines },
      );
    }
  }
  // The store deletes in one transaction and says whether this call removed the model: of deletes
  // racing (four forced ones at once), one answers acknowledged and the others 404, as in Elasticsearch.
  if (!(await ctx.store.deleteTrainedModel(p.accountId, modelId))) throw modelNotFound(modelId);
  ctx.log.info({ accountId: p.accountId, modelId, force: o.force }, 'trained model deleted');
  for (const deploymentId of await modelDeploymentIds(ctx, p.accountId, modelId)) {
    try {
      await stopForDelete(ctx, p, deploymentId, deadline);
    } catch (err) {
      // The model is gone whatever this stop does: one past the bound goes on (its endpoint is stopping, so it serves
      // nothing), and the answer stays the delete's. Any other failure is the caller's to see.
      if (!(err instanceof GantryError) || err.code !== 'STOP_TIMEOUT') throw err;
      ctx.log.warn({ accountId: p.accountId, modelId, deploymentId }, 'deployment started during the model delete still stopping at its timeout');
    }
  }
}

/** A forced stop of one of the model's deployments, within what is left of the delete's bound. */
async function stopForDelete(ctx: ControlContext, p: Principal, deploymentId: string, deadline: number): Promise<void> {
  await stopMlDeployment(ctx, p, {
    deploymentId,
    allowNoMatch: true,
    force: true,
    finishPendingWork: false,
    expandWildcards: false,
    drainTimeoutMs: null,
    timeoutMs: Math.max(0, deadline - ctx.clock.now()),
  });
}
