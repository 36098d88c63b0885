import { GantryError } from '../errors.js';
import { parseTokenization, type BertTokenization, type TokenBatch } from './tokenizer.js';

/**
 * Elasticsearch's NLP `inference_config` for the tasks Gantry runs, the per-request overrides `_infer`
 * takes, and the post-processing that turns a model's raw first output into Elasticsearch's result shapes.
 */

export const TASKS = ['text_embedding', 'text_classification', 'pass_through'] as const;
export type TaskName = (typeof TASKS)[number];

export interface TaskConfig {
  readonly task: TaskName;
  readonly tokenization: BertTokenization;
  /** The key the prediction is written under; Elasticsearch's default is `predicted_value`. */
  readonly resultsField: string;
  /** text_classification: one label per logit; null names classes by their index. */
  readonly classificationLabels: readonly string[] | null;
  /** text_classification: how many `top_classes` to return; 0 none (the default), -1 all. */
  readonly numTopClasses: number;
  /** text_embedding: the declared embedding width, checked against the model's output when set. */
  readonly embeddingSize: number | null;
}

/** A model output as onnxruntime gives it: flat data in row-major order and its dims. */
export interface RawOutput {
  readonly data: ArrayLike<number>;
  readonly dims: readonly number[];
}

export type InferenceResult = Readonly<Record<string, unknown>>;

export const DEFAULT_INPUT_FIELD = 'text_field';
const DEFAULT_RESULTS_FIELD = 'predicted_value';

const invalid = (message: string, field: string): GantryError => new GantryError('INVALID_INFERENCE_CONFIG', message, { field });
const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);
const isTask = (s: string): s is TaskName => (TASKS as readonly string[]).includes(s);

/** The one task key of an `inference_config` object. */
function taskEntry(raw: unknown, field: string): [TaskName, Record<string, unknown>] {
  if (!isObject(raw)) throw invalid(`[${field}] must be an object with one task, one of [${TASKS.join(', ')}]`, field);
  const keys = Object.keys(raw);
  const name = keys[0];
  if (keys.length !== 1 || name === undefined)
    throw invalid(`[${field}] must name exactly one task, one of [${TASKS.join(', ')}]; got [${keys.join(', ')}]`, field);
  if (!isTask(name)) throw invalid(`[${field}] names task [${name}], which Gantry does not run; supported tasks are [${TASKS.join(', ')}]`, field);
  const body = raw[name] ?? {};
  if (!isObject(body)) throw invalid(`[${field}.${name}] must be an object`, `${field}.${name}`);
  return [name, body];
}

function resultsField(v: unknown, f: string): string {
  if (typeof v !== 'string' || v === '') throw invalid(`[${f}] must be a non-empty string`, f);
  return v;
}

function numTopClasses(v: unknown, f: string): number {
  if (typeof v !== 'number' || !Number.isInteger(v) || v < -1) throw invalid(`[${f}] must be an integer, -1 (all classes) or more`, f);
  return v;
}

function labels(v: unknown, f: string): string[] {
  if (!Array.isArray(v) || v.length === 0 || !v.every((x) => typeof x === 'string')) throw invalid(`[${f}] must be a non-empty array of strings`, f);
  return v;
}

/** Parse a model's `inference_config`, e.g. `{text_classification: {classification_labels: [...], tokenization: {bert: {...}}}}`. */
export function parseInferenceConfig(raw: unknown, field = 'inference_config'): TaskConfig {
  const [task, body] = taskEntry(raw, field);
  let cfg: TaskConfig = {
    task,
    tokenization: parseTokenization(undefined),
    resultsField: DEFAULT_RESULTS_FIELD,
    classificationLabels: null,
    numTopClasses: 0,
    embeddingSize: null,
  };
  for (const [k, v] of Object.entries(body)) {
    const f = `${field}.${task}.${k}`;
    if (k === 'tokenization') cfg = { ...cfg, tokenization: parseTokenization(v, undefined, f) };
    else if (k === 'results_field') cfg = { ...cfg, resultsField: resultsField(v, f) };
    // Elasticsearch's pointer to its vocabulary index; Gantry keeps the vocabulary with the model.
    else if (k === 'vocabulary') continue;
    else if (task === 'text_classification' && k === 'classification_labels') cfg = { ...cfg, classificationLabels: labels(v, f) };
    else if (task === 'text_classification' && k === 'num_top_classes') cfg = { ...cfg, numTopClasses: numTopClasses(v, f) };
    else if (task === 'text_embedding' && k === 'embedding_size') {
      if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) throw invalid(`[${f}] must be a positive integer`, f);
      cfg = { ...cfg, embeddingSize: v };
    } else throw invalid(`[${f}] is not a setting of task [${task}]`, f);
  }
  return cfg;
}

/**
 * Apply an `_infer` request's `inference_config` to the model's. As in Elasticsearch, only some fields
 * may change per request: `results_field`, `tokenization.bert.truncate`, and for classification
 * `num_top_classes` and `classification_labels`.
 */
export function applyInferenceOverride(base: TaskConfig, raw: unknown, field = 'inference_config'): TaskConfig {
  if (raw === undefined || raw === null) return base;
  const [task, body] = taskEntry(raw, field);
  if (task !== base.task) throw invalid(`[${field}] is for task [${task}] but the model's task is [${base.task}]`, field);
  let cfg = base;
  for (const [k, v] of Object.entries(body)) {
    const f = `${field}.${task}.${k}`;
    if (k === 'results_field') cfg = { ...cfg, resultsField: resultsField(v, f) };
    else if (k === 'tokenization') {
      const bert = isObject(v) && isObject(v.bert) ? v.bert : null;
      const extra = bert === null ? [] : Object.keys(bert).filter((x) => x !== 'truncate' && x !== 'span');
      if (bert === null || Object.keys(v as object).length !== 1 || extra.length > 0) throw invalid(`[${f}] may only change [bert.truncate] per request`, f);
      cfg = { ...cfg, tokenization: parseTokenization(v, cfg.tokenization, f) };
    } else if (task === 'text_classification' && k === 'num_top_classes') cfg = { ...cfg, numTopClasses: numTopClasses(v, f) };
    else if (task === 'text_classification' && k === 'classification_labels') cfg = { ...cfg, classificationLabels: labels(v, f) };
    else throw invalid(`[${f}] cannot be changed per request`, f);
  }
  return cfg;
}

/** The model's `inference_config` in Elasticsearch's shape, defaults filled in (what GET shows). */
export function renderInferenceConfig(cfg: TaskConfig): Record<string, unknown> {
  const t = cfg.tokenization;
  const body: Record<string, unknown> = {
    tokenization: {
      bert: {
        do_lower_case: t.doLowerCase,
        with_special_tokens: t.withSpecialTokens,
        max_sequence_length: t.maxSequenceLength,
        truncate: t.truncate,
        span: -1,
      },
    },
    results_field: cfg.resultsField,
  };
  if (cfg.task === 'text_classification') {
    if (cfg.classificationLabels !== null) body.classification_labels = [...cfg.classificationLabels];
    body.num_top_classes = cfg.numTopClasses;
  }
  if (cfg.task === 'text_embedding' && cfg.embeddingSize !== null) body.embedding_size = cfg.embeddingSize;
  return { [cfg.task]: body };
}

/** The model's input field from `input: {field_names: [...]}`; `text_field` when absent. */
export function parseInputField(raw: unknown, field = 'input'): string {
  if (raw === undefined || raw === null) return DEFAULT_INPUT_FIELD;
  const names = isObject(raw) ? raw.field_names : undefined;
  if (!Array.isArray(names) || names.length === 0 || typeof names[0] !== 'string' || names[0] === '')
    throw new GantryError('INVALID_ARGUMENT', `[${field}.field_names] must be a non-empty array of strings`, { field: `${field}.field_names` });
  return names[0];
}

/**
 * The text of one document: the field by its exact name, else by a dotted path into nested objects. Own fields
 * only: `constructor` or `__proto__` of a document is a field it lacks, not Object's.
 */
export function docText(doc: unknown, field: string): string {
  const own = (o: unknown, k: string): unknown => (isObject(o) && Object.hasOwn(o, k) ? o[k] : undefined);
  let v = own(doc, field);
  if (v === undefined && field.includes('.')) v = field.split('.').reduce<unknown>(own, doc);
  if (v === undefined || v === null) throw new GantryError('INPUT_FIELD_MISSING', `Input field [${field}] does not exist in the request`, { field });
  if (typeof v !== 'string') throw new GantryError('INVALID_ARGUMENT', `Input field [${field}] must be a string`, { field });
  return v;
}

const modelMismatch = (message: string): GantryError => new GantryError('MODEL_DEFINITION_INVALID', message, {});

/** Softmax in float64, shifted by the maximum so large logits do not overflow. */
export function softmax(logits: readonly number[]): number[] {
  const m = Math.max(...logits);
  const e = logits.map((x) => Math.exp(x - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((x) => x / s);
}

/** Row `b` of a [batch, ...rest] output as nested arrays. */
function nested(data: ArrayLike<number>, dims: readonly number[], offset: number): unknown {
  const [d, ...rest] = dims;
  if (d === undefined) return data[offset] ?? 0;
  const stride = rest.reduce((a, x) => a * x, 1);
  return Array.from({ length: d }, (_, i) => nested(data, rest, offset + i * stride));
}

function classify(cfg: TaskConfig, out: RawOutput, b: number): Record<string, unknown> {
  const width = out.dims[1] ?? 0;
  if (out.dims.length !== 2)
    throw modelMismatch(`text_classification needs logits [batch, labels]; the model's first output has dims [${out.dims.join(', ')}]`);
  const names = cfg.classificationLabels ?? Array.from({ length: width }, (_, i) => String(i));
  if (names.length !== width) throw modelMismatch(`the model gives ${width} logits but [classification_labels] names ${names.length} classes`);
  const probs = softmax(Array.from({ length: width }, (_, i) => Number(out.data[b * width + i])));
  const order = probs.map((p, i) => [p, i] as const).sort((x, y) => y[0] - x[0] || x[1] - y[1]);
  const [bestP, best] = order[0] ?? [0, 0];
  const n = cfg.numTopClasses < 0 ? width : Math.min(cfg.numTopClasses, width);
  const r: Record<string, unknown> = { [cfg.resultsField]: names[best] };
  // Elasticsearch's TopClassEntry for NLP classification carries the probability as the score too.
  if (n > 0) r.top_classes = order.slice(0, n).map(([p, i]) => ({ class_name: names[i], class_probability: p, class_score: p }));
  r.prediction_probability = bestP;
  return r;
}

/** Mean over the positions the attention mask keeps, so padding changes nothing. */
function embed(cfg: TaskConfig, out: RawOutput, batch: TokenBatch, b: number): Record<string, unknown> {
  let v: number[];
  if (out.dims.length === 2) {
    const h = out.dims[1] ?? 0;
    v = Array.from({ length: h }, (_, j) => Number(out.data[b * h + j]));
  } else if (out.dims.length === 3) {
    const [, seq = 0, h = 0] = out.dims;
    const mask = batch.attentionMask[b] ?? [];
    v = new Array<number>(h).fill(0);
    let kept = 0;
    for (let s = 0; s < seq; s++) {
      if ((mask[s] ?? 0) === 0) continue;
      kept++;
      for (let j = 0; j < h; j++) v[j] = (v[j] ?? 0) + Number(out.data[(b * seq + s) * h + j]);
    }
    v = v.map((x) => x / Math.max(kept, 1));
  } else throw modelMismatch(`text_embedding needs [batch, hidden] or [batch, sequence, hidden]; the model's first output has dims [${out.dims.join(', ')}]`);
  if (cfg.embeddingSize !== null && v.length !== cfg.embeddingSize)
    throw modelMismatch(`the model gives ${v.length} numbers but [embedding_size] is ${cfg.embeddingSize}`);
  return { [cfg.resultsField]: v };
}

/** The raw output of this row; a per-position axis is cut to the row's own tokens so padding does not show. */
function passThrough(cfg: TaskConfig, out: RawOutput, batch: TokenBatch, b: number): Record<string, unknown> {
  const rest = out.dims.slice(1);
  const stride = rest.reduce((a, x) => a * x, 1);
  const value = nested(out.data, rest, b * stride);
  const own = (batch.attentionMask[b] ?? []).reduce((a, x) => a + x, 0);
  const cut = rest.length >= 2 && rest[0] === batch.sequenceLength && Array.isArray(value) ? value.slice(0, own) : value;
  return { [cfg.resultsField]: cut };
}

/** One Elasticsearch result per row of the batch, from the model's first output. */
export function postProcess(cfg: TaskConfig, out: RawOutput, batch: TokenBatch, truncated: readonly boolean[]): InferenceResult[] {
  const rows = batch.inputIds.length;
  if (out.dims[0] !== rows) throw modelMismatch(`the model's first output has batch size ${out.dims[0] ?? '?'} for ${rows} inputs`);
  return Array.from({ length: rows }, (_, b) => {
    const r =
      cfg.task === 'text_classification' ? classify(cfg, out, b) : cfg.task === 'text_embedding' ? embed(cfg, out, batch, b) : passThrough(cfg, out, batch, b);
    return truncated[b] === true ? { ...r, is_truncated: true } : r;
  });
}
