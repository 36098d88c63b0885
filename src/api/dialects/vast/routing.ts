import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import { assertNever, GantryError } from '../../../domain/errors.js';
import type { Gateway } from '../../../gateway/gateway.js';
import { apiKeyOf } from '../../edge/api-key.js';
import { asObject, optNumber, optString, parseId } from './parse.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;
const SMALL_BODY_BYTES = 64 * 1024;

/** A request's cost: absent is 1; anything but a finite number from 0 to `max` is a 400 (a NaN cost would stall the worker it lands on). */
function costOf(v: number | null, max: number, field = 'cost'): number {
  const cost = v ?? 1;
  if (!Number.isFinite(cost) || cost < 0 || cost > max) throw new GantryError('INVALID_ARGUMENT', `'${field}' must be a number from 0 to ${max}.`, { field });
  return cost;
}

/** A numeric header: absent is null; empty, repeated or not a number is NaN (refused by the reader). */
function headerNumber(h: string | string[] | undefined): number | null {
  if (h === undefined) return null;
  return typeof h === 'string' && h.trim() !== '' ? Number(h) : NaN;
}

/** The request path: /route/ and /pubkey/ as Vast serves them, workers' /worker_status/, and the proxy. */
export async function vastRoutingRoutes(app: FastifyInstance, o: { control: ControlPlane; gateway: Gateway }): Promise<void> {
  const { control, gateway } = o;

  app.post('/route', async (req) => {
    const b = asObject(req.body);
    const name = optString(b, 'endpoint');
    if (name === null) throw new GantryError('INVALID_ARGUMENT', "'endpoint' (the endpoint name) is required.", { field: 'endpoint' });
    const idx = b.request_idx;
    if (idx !== undefined && idx !== null && typeof idx !== 'number' && typeof idx !== 'string') {
      throw new GantryError('INVALID_ARGUMENT', "'request_idx' must be a number or a string.", { field: 'request_idx' });
    }
    const key = optString(b, 'api_key') ?? apiKeyOf(req);
    const requestIdx = idx === 0 || idx === undefined || idx === null ? Math.floor(Math.random() * 2 ** 48) : idx;
    const out = await gateway.route(name, key, costOf(optNumber(b, 'cost'), control.ctx.settings.maxRequestCost), String(requestIdx));
    const base = { endpoint: name, request_idx: requestIdx, __request_id: randomUUID() };
    // Vast's answer: the grant's fields, or a `status` without `url` (the client asks again later).
    switch (out.kind) {
      case 'worker':
        return { ...out.grant, ...base };
      case 'none': {
        const phases = Object.entries(out.phases);
        return { ...base, status: phases.length === 0 ? 'No workers' : phases.map(([phase, n]) => `${n} ${phase}`).join(', ') };
      }
      case 'stopped':
        return { ...base, status: 'Stopped' };
      case 'gone':
        return { ...base, status: 'Deleted' };
      default:
        return assertNever(out, 'route outcome');
    }
  });

  app.get('/pubkey', async (_req, reply) => reply.type('text/plain; charset=utf-8').send(gateway.publicKeyPem));

  app.post('/worker_status', async (req) => {
    const b = asObject(req.body);
    const mtoken = optString(b, 'mtoken');
    if (mtoken === null) throw new GantryError('UNAUTHENTICATED', "'mtoken' (the worker's MASTER_TOKEN) is required.");
    const num = (f: string, d: number): number => {
      const v = optNumber(b, f) ?? d;
      if (v < 0) throw new GantryError('INVALID_ARGUMENT', `'${f}' may not be negative.`, { field: f });
      return v;
    };
    const maxPerf = optNumber(b, 'max_perf');
    await control.serverless.recordWorkerStatus({
      id: parseId(b.id, 'worker id'),
      mtoken,
      curLoad: num('cur_load', 0),
      maxPerf: maxPerf !== null && maxPerf > 0 ? maxPerf : null,
      curPerf: num('cur_perf', 0),
      numRequestsWorking: Math.round(num('num_requests_working', 0)),
      loaded: b.loaded === undefined ? maxPerf !== null && maxPerf > 0 : b.loaded === true,
      errorMsg: optString(b, 'error_msg') || null,
    });
    return { success: true };
  });

  // The proxy takes bodies as raw streams (passed through to the worker, never buffered).
  await app.register(async (proxy) => {
    proxy.removeAllContentTypeParsers();
    proxy.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    const handler = async (req: Req, reply: FastifyReply): Promise<unknown> => {
      const name = req.params.name ?? '';
      const rest = req.params['*'] ?? '';
      const url = new URL(req.url, 'http://x');
      url.searchParams.delete('api_key');
      const res = await gateway.proxy(name, apiKeyOf(req), {
        method: req.method,
        path: `/${rest}${url.search}`,
        headers: req.headers,
        body: req.body === undefined || req.body === null ? null : (req.body as IncomingMessage),
        contentLength: typeof req.headers['content-length'] === 'string' ? req.headers['content-length'] : null,
        cost: costOf(headerNumber(req.headers['x-gantry-cost']), control.ctx.settings.maxRequestCost, 'X-Gantry-Cost'),
      });
      // Small answers of known length are read whole (much cheaper than piping); anything else streams through.
      const length = Number(res.headers['content-length'] ?? NaN);
      const body = length <= SMALL_BODY_BYTES ? Buffer.from(await res.body.arrayBuffer()) : res.body;
      return reply.code(res.status).headers(res.headers).send(body);
    };
    proxy.all('/endpoints/:name', handler);
    proxy.all('/endpoints/:name/*', handler);
  });
}
