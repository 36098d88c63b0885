import type { FastifyInstance } from 'fastify';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';

/**
 * `GET /console/api/secrets`: the account's env var names only. Vast's `GET /api/v0/secrets` answers
 * with the values (its clients print them); the console never shows a value back once saved, so it
 * lists names here and writes through the Vast routes.
 */
export function consoleSecretRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  app.get('/console/api/secrets', async (req) => {
    const names = await deps.control.accounts.secrets.listSecretNames(principal(req));
    return { secrets: names.map((name) => ({ name })) };
  });
}
