import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Abort } from '../../../gateway/abort.js';
import type { Principal } from '../../../control/principal.js';
import { ERROR_CODES, GantryError, type ErrorCode } from '../../../domain/errors.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { callerGone } from '../../edge/caller-gone.js';
import { principal } from '../../edge/principal.js';
import { durationParam } from './duration.js';
import { knownFields, objectBody, type Query } from './query.js';

/** Elasticsearch's default `_infer` timeout. */
const INFER_TIMEOUT_MS = 10_000;
const INFER_FIELDS = new Set(['docs', 'inference_config', 'input']);

/** The worker's own error (`{error: {type, reason, code}}`) as a GantryError, so the dialect answers it in Elasticsearch's shape. */
function workerError(status: number, text: string): GantryError {
  let parsed: { error?: { reason?: unknown; code?: unknown } } = {};
  try {
    parsed = JSON.parse(text) as typeof parsed;
  } catch {
    // not JSON: the text is the reason
  }
  const c = parsed.error?.code;
  const reason = typeof parsed.error?.reason === 'string' ? parsed.error.reason : text.slice(0, 500);
  const code: ErrorCode = typeof c === 'string' && c in ERROR_CODES ? (c as ErrorCode) : status < 500 ? 'INVALID_ARGUMENT' : 'WORKER_FAILED';
  return new GantryError(code, reason, { workerStatus: status });
}

/**
 * Run documents through a deployment (by deployment id, or a model id a deployment serves): one
 * proxied request to a worker's `POST /infer`. Used by `_infer` and by the pipeline simulation.
 */
export async function inferDocs(
  deps: EdgeDeps,
  p: Principal,
  id: string,
  docs: readonly unknown[],
  inferenceConfig: unknown,
  timeoutMs: number,
  gone?: Abort,
): Promise<unknown[]> {
  const d = await deps.control.ml.inferenceTarget(p, id);
  const body = Buffer.from(JSON.stringify(inferenceConfig === undefined ? { docs } : { docs, inference_config: inferenceConfig }));
  const res = await deps.gateway
    .proxyDeployment(
      p,
      { uid: d.view.deployment.uid, resourceGroup: d.view.deployment.resourceGroup },
      {
        method: 'POST',
        path: '/infer',
        headers: { 'content-type': 'application/json', 'content-length': String(body.length) },
        body: Readable.from([body]),
        contentLength: String(body.length),
        cost: 1,
        timeoutMs,
        gone,
      },
    )
    .catch((err: unknown) => {
      // Routing closed between the state read above and the gateway: Elasticsearch's words for a new call to a stopping
      // (or failed: its workers kept failing) deployment, as inferenceTarget words them.
      if (err instanceof GantryError && err.code === 'ENDPOINT_STOPPED' && err.details.notTaken === true) {
        const state = err.details.failed === true ? 'failed' : 'stopping';
        throw new GantryError('ENDPOINT_STOPPED', `Trained model [${d.deploymentId}] is [${state}]`, { deploymentId: d.deploymentId });
      }
      throw err;
    });
  const text = Buffer.from(await res.body.arrayBuffer()).toString('utf8');
  if (res.status !== 200) throw workerError(res.status, text);
  const out = JSON.parse(text) as { inference_results?: unknown };
  if (!Array.isArray(out.inference_results)) throw new GantryError('WORKER_FAILED', 'The inference worker answered without inference_results.');
  return out.inference_results as unknown[];
}

/** `_infer` (and the deprecated `/deployment/_infer`, which adds a warning header). */
export function elasticInferRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  const handler = async (req: FastifyRequest<{ Params: { model_id: string } }>, reply: FastifyReply): Promise<unknown> => {
    const q = req.query as Query;
    const timeoutMs = durationParam(q, 'timeout', INFER_TIMEOUT_MS);
    const body = objectBody(req.body, { optional: false });
    knownFields(body, INFER_FIELDS, 'infer_trained_model');
    const docs = body.docs ?? (body.input !== undefined ? [{ text_field: body.input }] : undefined);
    if (!Array.isArray(docs) || docs.length === 0) throw new GantryError('MISSING_INPUT', '[docs] must be a non-empty array of documents.', { field: 'docs' });
    return { inference_results: await inferDocs(deps, principal(req), req.params.model_id, docs, body.inference_config, timeoutMs, callerGone(reply.raw)) };
  };
  app.post('/_ml/trained_models/:model_id/_infer', handler);
  app.post<{ Params: { model_id: string } }>('/_ml/trained_models/:model_id/deployment/_infer', async (req, reply) => {
    void reply.header(
      'warning',
      '299 Elasticsearch-9.1.0 "[/_ml/trained_models/{model_id}/deployment/_infer] is deprecated! Use [/_ml/trained_models/{model_id}/_infer] instead."',
    );
    return handler(req, reply);
  });
}
