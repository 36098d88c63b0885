import type { FastifyInstance } from 'fastify';
import type { ApiDialect, EdgeDeps } from '../../edge/dialect.js';
import { aicoreAuthenticate, aicoreAuthRoutes, aicoreCredential, aicoreParsers } from './auth.js';
import { aicoreCatalogRoutes } from './catalog.js';
import { aicoreDeploymentRoutes } from './deployments.js';
import { aicoreErrorBody, aicoreErrorStatus } from './errors.js';
import { aicoreRouteConfig } from './route-config.js';
import { strictBodies } from './strict-bodies.js';

/**
 * SAP AI Core's AI API (`/v2/lm/...`, `/v2/admin/...`), its OAuth2 token endpoint (`/oauth/token`)
 * and its inference URLs (`/v2/inference/deployments/{id}/...`). It only translates: an AI Core
 * deployment is an engine deployment made from a configuration, in a resource group.
 */
export const aicoreDialect: ApiDialect = {
  name: 'aicore',
  prefixes: ['/v2/', '/oauth/'],
  credential: aicoreCredential,
  authenticate: aicoreAuthenticate,
  errorBody: aicoreErrorBody,
  errorStatus: aicoreErrorStatus,
  parsers: aicoreParsers,
  routeConfig: aicoreRouteConfig,
  routes: aicoreRoutes,
};

async function aicoreRoutes(app: FastifyInstance, deps: EdgeDeps): Promise<void> {
  strictBodies(app);
  aicoreAuthRoutes(app, deps);
  aicoreCatalogRoutes(app, deps);
  await aicoreDeploymentRoutes(app, deps);
}
