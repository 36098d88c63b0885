import { InferenceSession, Tensor } from 'onnxruntime-node';
import { GantryError } from '../domain/errors.js';
import { applyInferenceOverride, docText, postProcess, type InferenceResult } from '../domain/ml/tasks.js';
import { padBatch, tokenize } from '../domain/ml/tokenizer.js';
import type { LoadedModel } from './model-source.js';

/**
 * One allocation's model: an onnxruntime session and the request path around it (documents → tokens →
 * the model → Elasticsearch results). Requests run one at a time, as an Elasticsearch allocation does;
 * `threads` (threads_per_allocation) is the parallelism inside one request.
 */
export class InferenceEngine {
  readonly #model: LoadedModel;
  readonly #session: InferenceSession;
  readonly #delayMs: number;
  #tail: Promise<unknown> = Promise.resolve();

  private constructor(model: LoadedModel, session: InferenceSession, delayMs: number) {
    this.#model = model;
    this.#session = session;
    this.#delayMs = delayMs;
  }

  static async create(model: LoadedModel, threads: number, delayMs = 0): Promise<InferenceEngine> {
    const session = await InferenceSession.create(model.definition, {
      intraOpNumThreads: threads,
      interOpNumThreads: 1,
      executionMode: 'sequential',
      graphOptimizationLevel: 'all',
    });
    return new InferenceEngine(model, session, delayMs);
  }

  get inputNames(): readonly string[] {
    return this.#session.inputNames;
  }

  /**
   * Run an `_infer` body `{docs, inference_config?}`; requests queue behind each other. A request
   * whose caller gave up (`signal`, the gateway's deadline) before its turn is skipped, so abandoned
   * work does not pile up ahead of live requests.
   */
  infer(body: unknown, signal?: AbortSignal): Promise<InferenceResult[]> {
    const run = this.#tail.then(() => {
      if (signal?.aborted === true) throw new Error('the caller gave up before this request ran');
      return this.#run(body);
    });
    this.#tail = run.catch(() => undefined);
    return run;
  }

  async #run(body: unknown): Promise<InferenceResult[]> {
    const b = typeof body === 'object' && body !== null ? (body as Record<string, unknown>) : {};
    const docs = b.docs;
    if (!Array.isArray(docs) || docs.length === 0) throw new GantryError('MISSING_INPUT', '[docs] must be a non-empty array of documents', { field: 'docs' });
    const m = this.#model;
    const cfg = applyInferenceOverride(m.config, b.inference_config);
    const rows = docs.map((d) => tokenize(docText(d, m.inputField), m.vocabulary, cfg.tokenization));
    const batch = padBatch(rows, m.vocabulary.pad);
    if (this.#delayMs > 0) await new Promise((r) => setTimeout(r, this.#delayMs));
    const tensor = (x: number[][]): Tensor =>
      new Tensor(
        'int64',
        BigInt64Array.from(x.flat(), (v) => BigInt(v)),
        [x.length, batch.sequenceLength],
      );
    const feeds: Record<string, Tensor> = { input_ids: tensor(batch.inputIds), attention_mask: tensor(batch.attentionMask) };
    if (this.#session.inputNames.includes('token_type_ids')) feeds.token_type_ids = tensor(batch.tokenTypeIds);
    const name = this.#session.outputNames[0] ?? '';
    const out = (await this.#session.run(feeds, [name]))[name];
    if (out === undefined || !(out.data instanceof Float32Array || out.data instanceof Float64Array))
      throw new GantryError('MODEL_DEFINITION_INVALID', `the model's first output [${name}] is not a float tensor`, {});
    return postProcess(
      cfg,
      { data: out.data, dims: out.dims },
      batch,
      rows.map((r) => r.truncated),
    );
  }

  async release(): Promise<void> {
    await this.#session.release();
  }
}
