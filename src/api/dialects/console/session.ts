import type { FastifyInstance } from 'fastify';
import { actionReach } from '../../../control/principal.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';

/**
 * `GET /console/api/session`: who the key is and how far it reaches for each action, so the console
 * offers only what the key may do (every call is still authorized by the use case it reaches).
 */
export function consoleSessionRoutes(app: FastifyInstance, _deps: EdgeDeps): void {
  app.get('/console/api/session', async (req) => {
    const p = principal(req);
    return {
      account: { id: p.accountId, username: p.username, is_admin: p.isAdmin },
      key: { id: p.keyId, scope: p.scope, instance_id: p.instanceId },
      can: actionReach(p),
    };
  });
}
