import { GantryError } from '../domain/errors.js';
import { checkModelContract, scanOnnx, type OnnxSummary } from '../domain/ml/onnx-scan.js';
import { parseInferenceConfig, parseInputField, type TaskConfig } from '../domain/ml/tasks.js';
import { Vocabulary } from '../domain/ml/tokenizer.js';
import type { Logger } from '../log/logger.js';

/**
 * The model an allocation serves, fetched from the control plane with the worker's own credentials:
 * `GET /_ml/_gantry/worker/model` (JSON: model_id, inference_config, input, vocabulary) and
 * `GET /_ml/_gantry/worker/model/definition` (the ONNX bytes). The control plane may not answer yet
 * when the worker starts (it is started by that control plane's loop), so both are retried with backoff.
 */
export interface LoadedModel {
  readonly modelId: string;
  readonly config: TaskConfig;
  readonly inputField: string;
  readonly vocabulary: Vocabulary;
  readonly definition: Uint8Array;
  readonly summary: OnnxSummary;
}

export interface ModelSourceOptions {
  /** The control plane's URL (the worker's GANTRY_URL). */
  readonly apiUrl: string;
  readonly workerId: number;
  readonly masterToken: string;
  /** Keep retrying this long while the control plane does not answer or answers 5xx. */
  readonly fetchTimeoutMs: number;
  readonly log: Logger;
}

const FIRST_BACKOFF_MS = 100;
const MAX_BACKOFF_MS = 5_000;

/** Answers that cannot get better by asking again: the credentials or the request are wrong. */
const permanent = (status: number): boolean => status >= 400 && status < 500 && status !== 404 && status !== 408 && status !== 429;

async function fetchRetrying(url: string, o: ModelSourceOptions): Promise<Response> {
  const headers = { 'x-gantry-worker-id': String(o.workerId), 'x-gantry-worker-token': o.masterToken };
  const deadline = Date.now() + o.fetchTimeoutMs;
  for (let attempt = 0, wait = FIRST_BACKOFF_MS; ; attempt++, wait = Math.min(wait * 2, MAX_BACKOFF_MS)) {
    let why: string;
    try {
      const res = await fetch(url, { headers });
      if (res.ok) return res;
      why = `answered ${res.status}: ${(await res.text()).slice(0, 500)}`;
      if (permanent(res.status)) throw new Error(`GET ${url} ${why}`);
    } catch (err) {
      if (err instanceof Error && err.message.startsWith(`GET ${url}`)) throw err;
      why = err instanceof Error ? ((err.cause as Error | undefined)?.message ?? err.message) : String(err);
    }
    if (Date.now() + wait > deadline) throw new Error(`GET ${url} failed for ${o.fetchTimeoutMs} ms; last: ${why}`);
    o.log.warn({ url, attempt, why }, 'control plane not ready for the model; retrying');
    await new Promise((r) => setTimeout(r, wait));
  }
}

async function* body(res: Response): AsyncGenerator<Uint8Array> {
  if (res.body === null) return;
  for await (const chunk of res.body) yield chunk;
}

export async function fetchModel(o: ModelSourceOptions): Promise<LoadedModel> {
  const base = `${o.apiUrl.replace(/\/$/, '')}/_ml/_gantry/worker/model`;
  const meta = (await (await fetchRetrying(base, o)).json()) as Record<string, unknown>;
  const modelId = typeof meta.model_id === 'string' ? meta.model_id : '';
  const tokens = meta.vocabulary;
  if (!Array.isArray(tokens) || !tokens.every((t) => typeof t === 'string'))
    throw new GantryError('INVALID_INFERENCE_CONFIG', `model [${modelId}] has no vocabulary (an array of strings)`, { field: 'vocabulary' });
  const config = parseInferenceConfig(meta.inference_config);
  const inputField = parseInputField(meta.input);
  const vocabulary = new Vocabulary(tokens);

  // Collect the bytes (onnxruntime takes the model whole) while scanning them as they arrive.
  const parts: Uint8Array[] = [];
  const res = await fetchRetrying(`${base}/definition`, o);
  const summary = await scanOnnx(
    (async function* () {
      for await (const c of body(res)) {
        parts.push(c);
        yield c;
      }
    })(),
  );
  checkModelContract(summary);
  const definition = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  parts.reduce((at, p) => (definition.set(p, at), at + p.length), 0);
  return { modelId, config, inputField, vocabulary, definition, summary };
}
