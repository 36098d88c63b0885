import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../control/control-plane.js';
import { GantryError } from '../../domain/errors.js';
import { apiKeyOf } from '../auth/api-key.js';
import { toGantryError } from '../errors.js';
import { readHeartbeat, readHello, readPoll, readResults } from './messages.js';

/**
 * The agent protocol (`/agent/v1`), Gantry's own wire format: JSON in, JSON out, errors as
 * `{"error":{"code","message"}}`. Every message is read strictly before the hub sees it.
 */
export async function agentProtocol(app: FastifyInstance, opts: { control: ControlPlane }): Promise<void> {
  const hub = opts.control.agents;
  const token = (req: FastifyRequest): string | null => apiKeyOf(req);

  app.setErrorHandler((err, req, reply) => {
    const { error, status } = toGantryError(err, req.id);
    if (status >= 500) req.log.error({ err }, 'agent request failed');
    else req.log.info({ code: error.code, status, route: req.url }, error.message);
    return reply.code(status).send({ error: { code: error.code, message: error.message } });
  });
  app.setNotFoundHandler((req, reply) =>
    reply.code(404).send({ error: { code: 'NOT_FOUND', message: `No agent protocol route ${req.method} ${req.url.split('?')[0] ?? ''}.` } }),
  );

  app.post('/hello', async (req) => hub.hello(token(req), readHello(req.body, '')));
  app.post('/heartbeat', async (req) => {
    await hub.heartbeat(token(req), readHeartbeat(req.body, ''));
    return { ok: true };
  });
  app.post('/poll', async (req) => ({ commands: await hub.poll(token(req), readPoll(req.body, '')) }));
  app.post('/results', async (req) => hub.results(token(req), readResults(req.body, '')));
  // Only POST exists; other methods get a clear answer instead of the generic 404.
  app.all('/:op', async (req) => {
    throw new GantryError('NOT_FOUND', `Agent protocol messages are POSTed; ${req.method} is not served.`);
  });
}
