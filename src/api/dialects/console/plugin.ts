import type { FastifyInstance } from 'fastify';
import { CONSOLE_SECURITY_HEADERS } from '../../edge/console-static.js';
import type { ApiDialect, EdgeDeps } from '../../edge/dialect.js';
import { consoleErrorBody } from './errors.js';
import { consoleSessionRoutes } from './session.js';
import { consoleOverviewRoutes } from './overview.js';
import { consoleSeriesRoutes } from './series.js';
import { consoleDeploymentRoutes } from './deployments.js';
import { consoleHostRoutes } from './hosts.js';
import { consoleSecretRoutes } from './secrets.js';
import { consoleEventRoutes } from './events.js';
import { PUSH_SOURCES } from './push-sources.js';

/**
 * The web console's own API (`/console/api/...`): what the console needs that no dialect's API
 * says (the key's reach, engine-wide views across dialects). Errors carry Gantry's code and
 * message. Everything a dialect already offers (instances, offers, keys) the console calls there.
 */
export const consoleDialect: ApiDialect = {
  name: 'console',
  prefixes: ['/console/api/'],
  errorBody: consoleErrorBody,
  routes: consoleRoutes,
};

function consoleRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  // JSON is never a page, but an answer opened in a tab or a frame gets the page's rules too (nothing loads, no framing).
  app.addHook('onRequest', async (_req, reply) => {
    void reply.headers({ ...CONSOLE_SECURITY_HEADERS, 'content-security-policy': "default-src 'none'; frame-ancestors 'none'" });
  });
  consoleSessionRoutes(app, deps);
  consoleOverviewRoutes(app, deps);
  consoleSeriesRoutes(app, deps);
  consoleDeploymentRoutes(app, deps);
  consoleHostRoutes(app, deps);
  consoleSecretRoutes(app, deps);
  consoleEventRoutes(app, deps, PUSH_SOURCES);
}
