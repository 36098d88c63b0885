import { randomUUID } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import { assertNever, GantryError } from '../../../domain/errors.js';
import type { Gateway } from '../../../gateway/gateway.js';
import { apiKeyOf, bearerOf } from '../../edge/api-key.js';
import { callerGone } from '../../edge/caller-gone.js';
import { costOf } from './cost.js';
import { callEndpoint, isSmall, workerPath } from './endpoint-proxy.js';
import { asObject, optNumber, optString, parseId } from './parse.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/** The longest `request_idx` taken as a string (Vast's clients send numbers). */
const REQUEST_IDX_CHARS = 128;

/** The request path: /route/ and /pubkey/ as Vast serves them, workers' /worker_status/ and /delete_requests/ (also under their /report/ address), and the proxy. */
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
    // Kept while the request waits for a worker (the demand the autoscaler sees): an id, not a payload.
    if (typeof idx === 'string' && idx.length > REQUEST_IDX_CHARS) {
      throw new GantryError('INVALID_ARGUMENT', `'request_idx' may be ${REQUEST_IDX_CHARS} characters long at most.`, { field: 'request_idx' });
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

  app.get('/pubkey', async (_req, reply) => reply.type('text/plain; charset=utf-8').send(await gateway.publicKeyPem()));

  const workerStatus = async (req: FastifyRequest, via: number | null) => {
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
      via,
    });
    return { success: true };
  };

  // Vast's worker library lists the requests it finished (for Vast's queue): their /route/ hand-outs end.
  const deleteRequests = async (req: FastifyRequest, via: number | null) => {
    const b = asObject(req.body);
    const mtoken = optString(b, 'mtoken');
    if (mtoken === null) throw new GantryError('UNAUTHENTICATED', "'mtoken' (the worker's MASTER_TOKEN) is required.");
    const id = parseId(b.worker_id, 'worker id');
    const idxs = finishedIdxs(b.requests);
    // The worker's token first: a forged one learns nothing of what the body should be.
    await control.serverless.acknowledgeWorkerRequests(id, mtoken, idxs ?? [], via);
    if (idxs === null)
      throw new GantryError('INVALID_ARGUMENT', "'requests' must be a list of the finished requests, each with the 'request_idx' /route/ gave.", {
        field: 'requests',
      });
    return { success: true };
  };

  app.post('/worker_status', (req) => workerStatus(req, null));
  app.post('/delete_requests', (req) => deleteRequests(req, null));

  // A worker's REPORT_ADDR names its endpoint (route-keys.ts): its key, and the same reports through it.
  const via = (req: Req, forKey = false): Promise<number> => control.serverless.reportAddressEndpoint(req.params.ref ?? '', forKey);
  app.get('/report/:ref/pubkey', async (req: Req, reply) =>
    reply.type('text/plain; charset=utf-8').send(await gateway.endpointPublicKeyPem(await via(req, true))),
  );
  app.post('/report/:ref/worker_status', async (req: Req) => workerStatus(req, await via(req)));
  app.post('/report/:ref/delete_requests', async (req: Req) => deleteRequests(req, await via(req)));

  // The proxy takes bodies as raw streams (passed through to the worker, never buffered).
  await app.register(async (proxy) => {
    proxy.removeAllContentTypeParsers();
    proxy.addContentTypeParser('*', (_req, payload, done) => done(null, payload));
    // URLs the data route declines (see endpointDataRoute), with the same translation.
    const handler = async (req: Req, reply: FastifyReply): Promise<unknown> => {
      const search = req.url.indexOf('?');
      const { path, queryKey } = workerPath(`/${req.params['*'] ?? ''}`, search < 0 ? '' : req.url.slice(search));
      const body = req.body === undefined || req.body === null ? null : (req.body as IncomingMessage);
      const key = bearerOf(req.headers.authorization) ?? queryKey;
      const res = await callEndpoint(control, gateway, {
        name: req.params.name ?? '',
        path,
        key,
        method: req.method,
        headers: req.headers,
        body,
        gone: callerGone(reply.raw),
      });
      return reply
        .code(res.status)
        .headers(res.headers)
        .send(isSmall(res) ? Buffer.from(await res.body.arrayBuffer()) : res.body);
    };
    proxy.all('/endpoints/:name', handler);
    proxy.all('/endpoints/:name/*', handler);
  });
}

/**
 * The request_idx of each finished request in a /delete_requests/ body (`requests: [{ request_idx, … }]`);
 * null when `requests` is not a list. An entry without one (a session's, which Vast's library lists with
 * none) is skipped, not refused: refused, the library would send the whole list again with every later one.
 */
function finishedIdxs(raw: unknown): string[] | null {
  if (raw === undefined || raw === null) return [];
  if (!Array.isArray(raw)) return null;
  return raw.flatMap((r: unknown) => {
    const idx = typeof r === 'object' && r !== null ? (r as Record<string, unknown>).request_idx : undefined;
    return typeof idx === 'number' || typeof idx === 'string' ? [String(idx)] : [];
  });
}
