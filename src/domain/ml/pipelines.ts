import { GantryError } from '../errors.js';

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

function invalid(msg: string, field: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', msg, { field });
}

const INFERENCE_FIELDS = new Set([
  'model_id',
  'target_field',
  'input_output',
  'field_map',
  'inference_config',
  'tag',
  'description',
  'if',
  'ignore_failure',
  'on_failure',
  'ignore_missing',
]);

function checkInference(cfg: unknown, at: string): void {
  if (!isObject(cfg)) throw invalid(`[${at}] must be an object.`, at);
  for (const k of Object.keys(cfg)) if (!INFERENCE_FIELDS.has(k)) throw invalid(`[${at}] has an unknown field [${k}].`, `${at}.${k}`);
  if (typeof cfg.model_id !== 'string' || cfg.model_id === '')
    throw invalid(`[${at}.model_id] is required: the model, deployment or alias to run.`, `${at}.model_id`);
  if (cfg.target_field !== undefined && typeof cfg.target_field !== 'string') throw invalid(`[${at}.target_field] must be a string.`, `${at}.target_field`);
  if (cfg.field_map !== undefined && !isObject(cfg.field_map)) throw invalid(`[${at}.field_map] must be an object.`, `${at}.field_map`);
  if (cfg.inference_config !== undefined && !isObject(cfg.inference_config))
    throw invalid(`[${at}.inference_config] must be an object.`, `${at}.inference_config`);
  if (cfg.input_output !== undefined) {
    const list = Array.isArray(cfg.input_output) ? cfg.input_output : [cfg.input_output];
    for (const io of list) {
      if (!isObject(io) || typeof io.input_field !== 'string' || (io.output_field !== undefined && typeof io.output_field !== 'string')) {
        throw invalid(`[${at}.input_output] holds objects with a string [input_field] and an optional string [output_field].`, `${at}.input_output`);
      }
    }
    if (cfg.field_map !== undefined) throw invalid(`[${at}] takes [input_output] or [field_map], not both.`, at);
  }
  if (cfg.on_failure !== undefined) checkProcessors(cfg.on_failure, `${at}.on_failure`);
}

function checkProcessors(list: unknown, at: string): void {
  if (!Array.isArray(list)) throw invalid(`[${at}] must be an array of processors.`, at);
  list.forEach((p, i) => {
    const where = `${at}[${i}]`;
    if (!isObject(p) || Object.keys(p).length !== 1) throw invalid(`[${where}] must be an object with exactly one processor type as its key.`, where);
    const type = Object.keys(p)[0] as string;
    if (type !== 'inference') {
      throw new GantryError('PROCESSOR_UNSUPPORTED', `processor type [${type}] is not supported by Gantry (only inference)`, { field: where, type });
    }
    checkInference(p[type], `${where}.inference`);
  });
}

const PIPELINE_FIELDS = new Set(['description', 'processors', 'on_failure', 'version', '_meta', 'deprecated']);

/**
 * Most characters of a pipeline's JSON. Inference processors need a few hundred; without a bound each
 * stored pipeline could be as large as a request body, and a GET of all of them is read and sent whole.
 */
export const MAX_PIPELINE_CHARS = 65_536;

/** An ingest pipeline's body: processors (inference only), optional on_failure, description, version, _meta; at most MAX_PIPELINE_CHARS of JSON. */
export function checkPipelineBody(body: unknown): Record<string, unknown> {
  if (!isObject(body)) throw invalid('The pipeline body must be a JSON object with [processors].', 'body');
  const chars = JSON.stringify(body).length;
  if (chars > MAX_PIPELINE_CHARS) throw invalid(`The pipeline is ${chars} characters of JSON; at most ${MAX_PIPELINE_CHARS} are accepted.`, 'body');
  for (const k of Object.keys(body)) if (!PIPELINE_FIELDS.has(k)) throw invalid(`The pipeline has an unknown field [${k}].`, k);
  if (body.processors === undefined) throw new GantryError('MISSING_INPUT', '[processors] required property is missing', { field: 'processors' });
  checkProcessors(body.processors, 'processors');
  if (body.on_failure !== undefined) checkProcessors(body.on_failure, 'on_failure');
  if (body.description !== undefined && typeof body.description !== 'string') throw invalid('[description] must be a string.', 'description');
  if (body.version !== undefined && !Number.isSafeInteger(body.version)) throw invalid('[version] must be an integer.', 'version');
  if (body._meta !== undefined && !isObject(body._meta)) throw invalid('[_meta] must be an object.', '_meta');
  return body;
}

/** The model, deployment or alias ids the pipeline's inference processors name (on_failure included). */
export function inferenceReferences(body: Readonly<Record<string, unknown>>): string[] {
  const out = new Set<string>();
  const walk = (list: unknown): void => {
    if (!Array.isArray(list)) return;
    for (const p of list) {
      if (!isObject(p)) continue;
      const inf = p.inference;
      if (isObject(inf)) {
        if (typeof inf.model_id === 'string') out.add(inf.model_id);
        walk(inf.on_failure);
      }
    }
  };
  walk(body.processors);
  walk(body.on_failure);
  return [...out];
}

/** Elasticsearch's ids for pipelines: non-empty, no whitespace-only or over-long names. */
export function checkPipelineId(id: string): void {
  if (id.trim() === '' || id.length > 512 || id.includes('*') || id.includes(',')) {
    throw invalid(`Invalid pipeline id [${id}]: 1-512 characters, no '*' or ','.`, 'id');
  }
}
