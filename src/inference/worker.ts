import { isGantryError } from '../domain/errors.js';
import type { Logger } from '../log/logger.js';
import { startWorker, type RunningWorker, type WorkerRequest, type WorkerResponse } from '../sdk/worker.js';
import { InferenceEngine } from './engine.js';
import { fetchModel } from './model-source.js';

/**
 * The inference worker: the workload of each allocation of an Elasticsearch trained-model deployment.
 * It fetches its model from the control plane, opens an onnxruntime session, and only then serves
 * (so it reports itself loaded only once it can answer) through the worker helper, which checks the
 * gateway's signature, reports load, and on SIGTERM finishes the requests in flight before exiting.
 *
 * Contract with the gateway: `POST /infer` `{docs: [...], inference_config?: {...}}` →
 * 200 `{inference_results: [...]}`, or 400 `{error: {type, reason, code}}` for input the model cannot take.
 */
export interface InferenceWorkerOptions {
  readonly reportAddr: string;
  readonly apiUrl: string;
  readonly masterToken: string;
  readonly workerId: number;
  readonly port: number;
  readonly threads: number;
  readonly delayMs: number;
  readonly fetchTimeoutMs: number;
  readonly log: Logger;
}

export interface RunningInferenceWorker extends RunningWorker {
  readonly modelId: string;
}

function errorResponse(err: unknown, log: Logger): WorkerResponse {
  if (isGantryError(err) && err.kind === 'invalid') {
    // Elasticsearch answers bad inference input with a 400 status_exception.
    return { status: 400, body: { error: { type: 'status_exception', reason: err.message, code: err.code } } };
  }
  log.error({ err }, 'inference failed');
  return { status: 500, body: { error: { type: 'exception', reason: err instanceof Error ? err.message : String(err), code: 'INTERNAL' } } };
}

export async function startInferenceWorker(o: InferenceWorkerOptions): Promise<RunningInferenceWorker> {
  const model = await fetchModel(o);
  const log = o.log.child({ component: 'inference-worker', modelId: model.modelId });
  const engine = await InferenceEngine.create(model, o.threads, o.delayMs);
  log.info({ task: model.config.task, inputs: model.summary.inputs, outputs: model.summary.outputs, threads: o.threads }, 'model loaded');

  const handle = async (req: WorkerRequest): Promise<WorkerResponse> => {
    const path = req.path.split('?')[0];
    if (path !== '/infer') return { status: 404, body: { error: { type: 'resource_not_found_exception', reason: `no route ${req.method} ${path ?? ''}` } } };
    if (req.method !== 'POST') return { status: 405, body: { error: { type: 'illegal_argument_exception', reason: 'use POST /infer' } } };
    let body: unknown;
    try {
      body = JSON.parse(req.body.toString('utf8'));
    } catch {
      return { status: 400, body: { error: { type: 'parse_exception', reason: 'the request body is not JSON', code: 'INVALID_JSON' } } };
    }
    const started = Date.now();
    try {
      const results = await engine.infer(body, req.signal);
      log.debug({ docs: results.length, ms: Date.now() - started }, 'inferred');
      return { body: { inference_results: results } };
    } catch (err) {
      return errorResponse(err, log);
    }
  };

  const worker = await startWorker({
    handle,
    port: o.port,
    reportAddr: o.reportAddr,
    masterToken: o.masterToken,
    workerId: o.workerId,
    log: (line) => log.info(line),
  });
  log.info({ url: worker.url }, 'serving');
  return { ...worker, modelId: model.modelId };
}
