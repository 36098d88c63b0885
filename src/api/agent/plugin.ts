import type { FastifyInstance } from 'fastify';
import { GantryError } from '../../domain/errors.js';
import { apiKeyOf } from '../edge/api-key.js';
import type { ApiDialect } from '../edge/dialect.js';
import { readHeartbeat, readHello, readPoll, readResults } from './messages.js';

/**
 * The agent protocol (`/agent/v1`), Gantry's own wire format: JSON in, JSON out, errors as
 * `{"error":{"code","message"}}`. It is mounted like a dialect, but it is machine traffic: the hub
 * checks host tokens itself and limits each token's messages (MessageBudget); the edge neither limits
 * nor audits it. Every message is read strictly before the hub sees it.
 */
export const agentProtocol: ApiDialect = {
  name: 'agent',
  prefixes: ['/agent/'],
  errorBody: (error) => ({ error: { code: error.code, message: error.message } }),
  routeConfig: () => ({ auth: false, audit: false, family: null }),
  async routes(app, { control }) {
    const hub = control.agents;
    await app.register(
      async (v1: FastifyInstance) => {
        // A token whose budget is spent is refused before its body is read (the hub charges after its checks).
        v1.addHook('onRequest', async (req) => hub.refuseEarly(apiKeyOf(req), req.ip));
        v1.post('/hello', async (req) => hub.hello(apiKeyOf(req), readHello(req.body, ''), { address: req.ip }));
        v1.post('/heartbeat', async (req) => {
          await hub.heartbeat(apiKeyOf(req), readHeartbeat(req.body, ''));
          return { ok: true };
        });
        v1.post('/poll', async (req) => ({ commands: await hub.poll(apiKeyOf(req), readPoll(req.body, '')) }));
        v1.post('/results', async (req) => hub.results(apiKeyOf(req), readResults(req.body, '')));
        // Messages are POSTed to known names; anything else gets a clear answer instead of the generic 404.
        v1.all('/:op', async (req) => {
          const op = (req.params as { op: string }).op;
          if (req.method === 'POST') throw new GantryError('NOT_FOUND', `The agent protocol has no message '${op}'.`);
          throw new GantryError('NOT_FOUND', `Agent protocol messages are POSTed; ${req.method} is not served.`);
        });
      },
      { prefix: '/agent/v1' },
    );
  },
};
