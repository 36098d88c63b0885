import type { FastifyInstance } from 'fastify';
import type { ApiDialect, EdgeDeps } from '../../edge/dialect.js';
import { elasticAuthenticate, elasticCredential, elasticParsers } from './auth.js';
import { elasticErrorBody, elasticErrorStatus, elasticResponseHeaders } from './errors.js';
import { elasticDeploymentRoutes } from './deployments.js';
import { elasticInfoRoutes } from './info.js';
import { elasticInferRoutes } from './infer.js';
import { elasticModelRoutes } from './models.js';
import { elasticPipelineRoutes } from './pipelines.js';
import { elasticRouteConfig } from './route-config.js';
import { refuseUnknownParams } from './params.js';
import { elasticSimulateRoutes } from './simulate.js';
import { elasticStatsRoutes } from './stats.js';
import { elasticWorkerRoutes } from './worker-model.js';

/**
 * Elasticsearch's trained-model API (`/_ml/...`), ingest pipelines (`/_ingest/...`) and the root
 * (`GET /`, `HEAD /`: cluster info and ping; only those two, so other root calls stay the fallback
 * dialect's). It only translates: models and pipelines are the control plane's `ml` use cases.
 */
export const elasticDialect: ApiDialect = {
  name: 'elastic',
  prefixes: ['/_ml/', '/_ingest/'],
  credential: elasticCredential,
  authenticate: elasticAuthenticate,
  errorBody: elasticErrorBody,
  errorStatus: elasticErrorStatus,
  responseHeaders: elasticResponseHeaders,
  parsers: elasticParsers,
  routeConfig: elasticRouteConfig,
  routes: elasticRoutes,
};

function elasticRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  refuseUnknownParams(app);
  elasticInfoRoutes(app, deps);
  elasticModelRoutes(app, deps);
  elasticPipelineRoutes(app, deps);
  elasticWorkerRoutes(app, deps);
  elasticDeploymentRoutes(app, deps);
  elasticInferRoutes(app, deps);
  elasticStatsRoutes(app, deps);
  elasticSimulateRoutes(app, deps);
}
