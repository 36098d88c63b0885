import { Readable } from 'node:stream';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { WorkerCredentials } from '../../../control/ml/worker-model.js';
import { GantryError } from '../../../domain/errors.js';
import type { EdgeDeps } from '../../edge/dialect.js';

/** The worker's credentials from its headers: its instance id (CONTAINER_ID) and MASTER_TOKEN. */
function credentialsOf(req: FastifyRequest): WorkerCredentials {
  const id = req.headers['x-gantry-worker-id'];
  const token = req.headers['x-gantry-worker-token'];
  if (typeof id !== 'string' || !/^\d{1,15}$/.test(id) || typeof token !== 'string' || token === '') {
    throw new GantryError('UNAUTHENTICATED', "Send x-gantry-worker-id (the worker's CONTAINER_ID) and x-gantry-worker-token (its MASTER_TOKEN).");
  }
  return { instanceId: Number(id), token };
}

/**
 * Gantry's own routes for its inference workers (outside Elasticsearch's API): the model a worker
 * serves, named by GANTRY_MODEL_ID in its instance's env, and its definition streamed part by part.
 * Authenticated by the worker's own credentials, not a user's key.
 */
export function elasticWorkerRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  const ml = deps.control.ml;
  app.get('/_ml/_gantry/worker/model', async (req) => {
    const { model, vocabulary } = await ml.workerModel(credentialsOf(req));
    return { model_id: model.modelId, inference_config: model.inferenceConfig, input: { field_names: model.inputFieldNames }, vocabulary };
  });
  app.get('/_ml/_gantry/worker/model/definition', async (req, reply) => {
    const d = await ml.workerModelDefinition(credentialsOf(req));
    // Byte mode with a one-byte high-water mark: the stream asks the store for the next part only
    // once the socket took the previous one, so at most one part is held here.
    const body = Readable.from(d.chunks, { objectMode: false, highWaterMark: 1 });
    return reply.type('application/octet-stream').header('content-length', String(d.totalLength)).send(body);
  });
}
