import type { FastifyInstance, FastifyRequest } from 'fastify';
import { GantryError } from '../../../domain/errors.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { boolParam, objectBody, stringParam, type Query } from './query.js';

/** Ingest pipelines: stored per account; only inference processors are accepted (the rule is the control plane's). */
export function elasticPipelineRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  const ml = deps.control.ml;

  app.put<{ Params: { id: string } }>('/_ingest/pipeline/:id', async (req) => {
    const q = req.query as Query;
    stringParam(q, 'master_timeout');
    stringParam(q, 'timeout');
    await ml.putPipeline(principal(req), req.params.id, objectBody(req.body, { optional: false }));
    return { acknowledged: true };
  });

  // Elasticsearch answers an id that names no pipeline with 404 and an empty object, not an error body.
  const get = async (req: FastifyRequest, ids: string | null, reply: { code(n: number): unknown }): Promise<unknown> => {
    const summary = boolParam(req.query as Query, 'summary', false);
    try {
      const found = await ml.getPipelines(principal(req), ids);
      return Object.fromEntries(found.map((pl) => [pl.id, summary ? {} : pl.body]));
    } catch (err) {
      if (err instanceof GantryError && err.code === 'PIPELINE_NOT_FOUND') {
        reply.code(404);
        return {};
      }
      throw err;
    }
  };
  app.get('/_ingest/pipeline', async (req, reply) => get(req, null, reply));
  app.get<{ Params: { id: string } }>('/_ingest/pipeline/:id', async (req, reply) => get(req, req.params.id, reply));

  app.delete<{ Params: { id: string } }>('/_ingest/pipeline/:id', async (req) => {
    await ml.deletePipelines(principal(req), req.params.id);
    return { acknowledged: true };
  });
}
