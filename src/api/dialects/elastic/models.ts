import type { FastifyInstance } from 'fastify';
import { GantryError } from '../../../domain/errors.js';
import { BodyPermits, largeBodyGate } from '../../edge/body-permits.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { durationParam } from './duration.js';
import { modelConfigBody } from './model-map.js';
import { boolParam, csvParam, intParam, isStrictBase64, knownFields, objectBody, optCount, optObject, optString, optStringArray, type Query } from './query.js';

/**
 * Elasticsearch's http.max_content_length (100mb): a definition part travels base64 inside JSON, and
 * Eland-style uploads use parts of a few MiB, so the app-wide body limit is too small for them.
 */
export const PART_BODY_LIMIT_BYTES = 100 * 1024 * 1024;

/**
 * Bodies up to the app-wide body limit (1 MiB) are parsed without a permit: any route takes those.
 * Larger ones (up to PART_BODY_LIMIT_BYTES) take several times their size in memory while the JSON and
 * the base64 in it are decoded, so only modelUploadConcurrency of them are read at once.
 */
const SMALL_BODY_BYTES = 1024 * 1024;

/** Elasticsearch's default `timeout` of a model delete: a forced one stops the model's deployments within it. */
const DELETE_TIMEOUT_MS = 30_000;

const MODEL_FIELDS = new Set([
  'model_type',
  'inference_config',
  'input',
  'description',
  'tags',
  'metadata',
  'model_size_bytes',
  'platform_architecture',
  'prefix_strings',
  'definition',
  'compressed_definition',
  'location',
]);
const PART_FIELDS = new Set(['definition', 'total_definition_length', 'total_parts']);
const VOCABULARY_FIELDS = new Set(['vocabulary', 'merges', 'scores']);
/** `include` values: definition_status is answered; the tree-ensemble extras have nothing to show for ONNX models. */
const INCLUDES = new Set(['definition_status', 'definition', 'feature_importance_baseline', 'hyperparameters', 'total_feature_importance']);

function invalid(msg: string, field: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', msg, { field });
}

function partOf(body: Record<string, unknown>, partParam: string): { index: number; totalParts: number; totalDefinitionLength: number; bytes: Uint8Array } {
  knownFields(body, PART_FIELDS, 'put_trained_model_definition_part');
  if (!/^\d{1,9}$/.test(partParam)) throw invalid(`[part] must be a non-negative integer, not [${partParam}].`, 'part');
  const def = body.definition;
  if (typeof def !== 'string' || def === '')
    throw new GantryError('MISSING_INPUT', "[definition] must be the part's bytes in base64.", { field: 'definition' });
  if (!isStrictBase64(def)) throw new GantryError('MODEL_DEFINITION_INVALID', '[definition] is not valid base64.', { field: 'definition' });
  const totalParts = optCount(body, 'total_parts');
  const totalLength = optCount(body, 'total_definition_length');
  if (totalParts === null) throw new GantryError('MISSING_INPUT', '[total_parts] is required.', { field: 'total_parts' });
  if (totalLength === null) throw new GantryError('MISSING_INPUT', '[total_definition_length] is required.', { field: 'total_definition_length' });
  return { index: Number(partParam), totalParts, totalDefinitionLength: totalLength, bytes: Buffer.from(def, 'base64') };
}

function inputFieldsOf(body: Record<string, unknown>): string[] {
  const input = optObject(body, 'input');
  if (input === null) return ['text_field'];
  knownFields(input, new Set(['field_names']), 'input');
  const names = optStringArray(input, 'field_names');
  if (names === null || names.length === 0)
    throw new GantryError('MISSING_INPUT', '[input.field_names] must name at least one field.', { field: 'input.field_names' });
  return names;
}

/** Trained models: create, definition parts, vocabulary, list, delete, aliases. */
export function elasticModelRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  const ml = deps.control.ml;
  const s = deps.control.ctx.settings;
  // One set of permits per server (replica), shared by both upload routes.
  const gauge = deps.control.ctx.metrics.modelUploadBodies;
  const permits = new BodyPermits({
    max: s.modelUploadConcurrency,
    // One account never holds them all: another's upload always finds one free, or waits behind other accounts only.
    perOwner: Math.max(1, s.modelUploadConcurrency - 1),
    waitMs: s.modelUploadWaitMs,
    onChange: (held, waiting) => {
      gauge.set({ state: 'held' }, held);
      gauge.set({ state: 'waiting' }, waiting);
    },
  });
  const large = {
    bodyLimit: PART_BODY_LIMIT_BYTES,
    ...(permits.max > 0 ? { preParsing: largeBodyGate(permits, { smallBytes: SMALL_BODY_BYTES, retryAfterS: 1 }) } : {}),
  };

  app.put<{ Params: { model_id: string } }>('/_ml/trained_models/:model_id', async (req) => {
    const q = req.query as Query;
    boolParam(q, 'defer_definition_decompression', false);
    boolParam(q, 'wait_for_completion', false);
    const body = objectBody(req.body, { optional: false });
    knownFields(body, MODEL_FIELDS, 'trained_model_config');
    if (body.definition !== undefined || body.compressed_definition !== undefined) {
      throw invalid('Gantry takes a model definition only in parts: PUT _ml/trained_models/{id}/definition/{part} (base64 ONNX bytes).', 'definition');
    }
    const modelType = optString(body, 'model_type');
    if (modelType === null) throw new GantryError('MISSING_INPUT', '[model_type] is required; Gantry accepts [onnx].', { field: 'model_type' });
    if (body.inference_config === undefined) throw new GantryError('MISSING_INPUT', '[inference_config] is required.', { field: 'inference_config' });
    const m = await ml.putTrainedModel(principal(req), {
      modelId: req.params.model_id,
      modelType,
      inferenceConfig: body.inference_config,
      inputFieldNames: inputFieldsOf(body),
      description: optString(body, 'description'),
      tags: optStringArray(body, 'tags') ?? [],
      metadata: optObject(body, 'metadata'),
      modelSizeBytes: optCount(body, 'model_size_bytes') ?? 0,
    });
    return modelConfigBody(m, { definitionStatus: false, excludeGenerated: false });
  });

  app.put<{ Params: { model_id: string; part: string } }>('/_ml/trained_models/:model_id/definition/:part', large, async (req) => {
    const part = partOf(objectBody(req.body, { optional: false }), req.params.part);
    await ml.putDefinitionPart(principal(req), req.params.model_id, part);
    return { acknowledged: true };
  });

  app.put<{ Params: { model_id: string } }>('/_ml/trained_models/:model_id/vocabulary', large, async (req) => {
    const body = objectBody(req.body, { optional: false });
    knownFields(body, VOCABULARY_FIELDS, 'put_trained_model_vocabulary');
    const vocabulary = optStringArray(body, 'vocabulary');
    if (vocabulary === null || vocabulary.length === 0)
      throw new GantryError('MISSING_INPUT', '[vocabulary] must be a non-empty array of strings.', { field: 'vocabulary' });
    const scores = body.scores;
    if (scores !== undefined && scores !== null && (!Array.isArray(scores) || scores.some((s) => typeof s !== 'number' || !Number.isFinite(s)))) {
      throw invalid('[scores] must be an array of numbers.', 'scores');
    }
    await ml.putVocabulary(principal(req), req.params.model_id, {
      vocabulary,
      merges: optStringArray(body, 'merges'),
      scores: Array.isArray(scores) ? (scores as number[]) : null,
    });
    return { acknowledged: true };
  });

  app.get('/_ml/trained_models', async (req) => listModels(req, null));
  app.get<{ Params: { model_id: string } }>('/_ml/trained_models/:model_id', async (req) => listModels(req, req.params.model_id));

  app.delete<{ Params: { model_id: string } }>('/_ml/trained_models/:model_id', async (req) => {
    const q = req.query as Query;
    const timeoutMs = durationParam(q, 'timeout', DELETE_TIMEOUT_MS);
    await ml.deleteTrainedModel(principal(req), req.params.model_id, { force: boolParam(q, 'force', false), timeoutMs });
    return { acknowledged: true };
  });

  app.put<{ Params: { model_id: string; model_alias: string } }>('/_ml/trained_models/:model_id/model_aliases/:model_alias', async (req) => {
    const reassign = boolParam(req.query as Query, 'reassign', false);
    await ml.putModelAlias(principal(req), { modelId: req.params.model_id, alias: req.params.model_alias, reassign });
    return { acknowledged: true };
  });

  app.delete<{ Params: { model_id: string; model_alias: string } }>('/_ml/trained_models/:model_id/model_aliases/:model_alias', async (req) => {
    await ml.deleteModelAlias(principal(req), req.params.model_id, req.params.model_alias);
    return { acknowledged: true };
  });

  async function listModels(req: Parameters<typeof principal>[0], ids: string | null): Promise<unknown> {
    const q = req.query as Query;
    const include = csvParam(q, 'include');
    for (const i of include) if (!INCLUDES.has(i)) throw invalid(`[include] takes ${[...INCLUDES].join(', ')}, not [${i}].`, 'include');
    if (include.includes('definition')) {
      throw invalid('include=definition is not served: a definition can be hundreds of MB; its parts were uploaded with PUT …/definition/{part}.', 'include');
    }
    boolParam(q, 'decompress_definition', true);
    const from = intParam(q, 'from', 0, 0, 10_000);
    const size = intParam(q, 'size', 100, 0, 10_000);
    if (from + size > 10_000) throw invalid('[from] + [size] must be at most 10000.', 'size');
    const r = await ml.listTrainedModels(principal(req), { ids, allowNoMatch: boolParam(q, 'allow_no_match', true), from, size, tags: csvParam(q, 'tags') });
    const o = { definitionStatus: include.includes('definition_status'), excludeGenerated: boolParam(q, 'exclude_generated', false) };
    return { count: r.count, trained_model_configs: r.models.map((m) => modelConfigBody(m, { ...o, aliases: r.aliases.get(m.modelId) ?? [] })) };
  }
}
