import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { Principal } from '../../../control/principal.js';
import { GantryError } from '../../../domain/errors.js';
import type { InstanceAction } from '../../../domain/instance/intent.js';
import { apiKeyOf } from '../../auth/api-key.js';
import { toGantryError } from '../../errors.js';
import { pageInstances } from './instances-v1.js';
import { vastMachineRoutes } from './machines.js';
import { vastRoutingRoutes } from './routing.js';
import { vastServerlessRoutes } from './serverless.js';
import type { Gateway } from '../../../gateway/gateway.js';
import { vastErrorBody } from './errors.js';
import { auditHook, errorCodeOf, principalOf } from '../../audit.js';
import { rateLimitHook, type RateLimitOptions } from '../../rate-limit/hook.js';
import { vastAccountRoutes } from './accounts.js';
import { vastBillingRoutes } from './billing.js';
import { vastInstance, vastUser } from './map.js';
import { parseVastSearch, vastOfferRow } from './offers.js';
import { asObject, jsonParam, optNumber, optString, parseCreateInstance, parseId } from './parse.js';

export interface VastDialectOptions {
  readonly control: ControlPlane;
  readonly gateway: Gateway;
  /** Base URL for result links; null: derived from the request. */
  readonly publicUrl: string | null;
  /** null: no rate limiting. */
  readonly rateLimit: RateLimitOptions | null;
}

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/**
 * The Vast.ai REST dialect (`/api/v0`, `/api/v1`). It only translates: request → core call,
 * core result or error → Vast's shapes. Every response is `Content-Type: application/json` exactly,
 * because the official CLI compares that string.
 */
export async function vastDialect(app: FastifyInstance, opts: VastDialectOptions): Promise<void> {
  const { control } = opts;
  const auth = async (req: FastifyRequest): Promise<Principal> => {
    const p = await control.authenticate(apiKeyOf(req));
    principalOf.set(req, p);
    return p;
  };
  if (opts.rateLimit !== null) app.addHook('onRequest', rateLimitHook(opts.rateLimit));
  app.addHook(
    'onResponse',
    auditHook(control.accounts.audit.recordAudit, () => control.now()),
  );
  const now = (): number => control.now();

  app.setErrorHandler((err, req, reply) => {
    const { error, status } = toGantryError(err, req.id);
    errorCodeOf.set(req, error.code);
    // Only faults are errors; a stopped endpoint or a busy queue answering 503/504 is expected traffic.
    if (error.kind === 'internal') req.log.error({ err }, 'request failed');
    else if (status >= 500) req.log.warn({ code: error.code, status }, error.message);
    else req.log.info({ code: error.code, status }, error.message);
    // Transient 5xx (no worker in time, a worker that failed, a host away) say when to try again; a stopped endpoint does not.
    if (error.code === 'RATE_LIMITED') void reply.header('retry-after', String(typeof error.details.retryAfter === 'number' ? error.details.retryAfter : 1));
    else if (error.retryable && status >= 502 && error.code !== 'ENDPOINT_STOPPED') void reply.header('retry-after', '1');
    return reply.code(status).type('application/json').send(vastErrorBody(error, status));
  });
  app.setNotFoundHandler((req, reply) =>
    reply
      .code(404)
      .type('application/json')
      .send(vastErrorBody(new GantryError('NOT_FOUND', `No route ${req.method} ${req.url.split('?')[0] ?? ''}.`), 404)),
  );
  app.addHook('onSend', async (_req, reply, payload) => {
    const ct = reply.getHeader('content-type');
    if (typeof ct === 'string' && ct.startsWith('application/json')) reply.header('content-type', 'application/json');
    return payload;
  });

  const intentBody = (action: InstanceAction, r: { changed: boolean }, id: number): Record<string, unknown> => ({
    success: true,
    msg: r.changed
      ? `${action} requested for instance ${id}`
      : `instance ${id}: already ${action === 'stop' ? 'stopped or stopping' : action === 'destroy' ? 'being destroyed' : 'in that state'}`,
  });

  // ── account and catalogue ──────────────────────────────────────────
  app.get('/api/v0/users/current', async (req) => {
    return vastUser(await control.currentAccount(await auth(req)));
  });

  // The legacy CLI calls this unauthenticated at start-up.
  app.get('/api/v0/gpu_names/unique', async () => {
    const names = new Set((await control.listMachines()).filter((m) => m.listed && m.numGpus > 0).map((m) => m.gpuName));
    return { gpu_names: [...names].sort() };
  });

  const search = async (req: FastifyRequest, body: unknown): Promise<Record<string, unknown>> => {
    const p = await auth(req);
    return { offers: (await control.searchOffers(p, parseVastSearch(body))).map(vastOfferRow) };
  };
  app.post('/api/v0/bundles', (req) => search(req, req.body));
  app.put('/api/v0/search/asks', (req) => search(req, req.body));
  app.get('/api/v0/bundles', (req: Req) => search(req, jsonParam(req.query.q) ?? {}));

  vastMachineRoutes(app, control, auth);
  vastServerlessRoutes(app, control, auth);
  vastAccountRoutes(app, control, auth);
  vastBillingRoutes(app, control, auth);
  await vastRoutingRoutes(app, { control, gateway: opts.gateway });

  // ── instances ──────────────────────────────────────────────────────
  app.put('/api/v0/asks/:id', async (req: Req) => {
    const p = await auth(req);
    const offer = parseId(req.params.id, 'offer id');
    const created = await control.createInstance(p, parseCreateInstance(offer, req.body));
    return { success: true, new_contract: created.instance.id, instance_api_key: created.instanceApiKey };
  });

  app.get('/api/v0/instances', async (req) => {
    const p = await auth(req);
    const rows = (await control.listInstances(p)).map((v) => vastInstance(v, now()));
    return { instances_found: rows.length, instances: rows };
  });
  app.get('/api/v1/instances', async (req: Req) => {
    const p = await auth(req);
    return pageInstances(
      (await control.listInstances(p)).map((v) => vastInstance(v, now())),
      req.query,
    );
  });
  app.get('/api/v0/instances/:id', async (req: Req) => {
    const p = await auth(req);
    return { instances: vastInstance(await control.showInstance(p, parseId(req.params.id)), now()) };
  });

  app.put('/api/v0/instances/:id', async (req: Req) => {
    const p = await auth(req);
    const id = parseId(req.params.id);
    const body = asObject(req.body);
    if (body.label !== undefined) {
      const label = optString(body, 'label');
      await control.labelInstance(p, id, label === '' ? null : label);
      if (body.state === undefined) return { success: true };
    }
    const state = optString(body, 'state');
    if (state === null) throw new GantryError('INVALID_ARGUMENT', 'Give "state" ("running" or "stopped") or "label".', { field: 'state' });
    const action = stateAction(state);
    return intentBody(action, await control.changeInstance(p, id, action), id);
  });

  app.put('/api/v0/instances', async (req) => {
    const p = await auth(req);
    const body = asObject(req.body);
    const action = stateAction(optString(body, 'state') ?? '');
    const ids = idList(body.ids ?? body.instance_ids, 'ids');
    return bulkBody(await control.bulkChangeInstances(p, ids, action));
  });
  app.delete('/api/v0/instances', async (req) => {
    const p = await auth(req);
    const body = asObject(req.body);
    return bulkBody(await control.bulkChangeInstances(p, idList(body.instance_ids ?? body.ids, 'instance_ids'), 'destroy'));
  });

  for (const action of ['reboot', 'recycle'] as const) {
    app.put(`/api/v0/instances/${action}/:id`, async (req: Req) => {
      const p = await auth(req);
      const id = parseId(req.params.id);
      return intentBody(action, await control.changeInstance(p, id, action), id);
    });
  }

  app.delete('/api/v0/instances/:id', async (req: Req) => {
    const p = await auth(req);
    const id = parseId(req.params.id);
    return intentBody('destroy', await control.changeInstance(p, id, 'destroy'), id);
  });

  app.put('/api/v0/instances/request_logs/:id', async (req: Req) => {
    const p = await auth(req);
    const body = asObject(req.body);
    const tail = optNumber(body, 'tail');
    const { token } = await control.requestLogs(p, parseId(req.params.id), { tail, filter: optString(body, 'filter') });
    const base = opts.publicUrl ?? `${req.protocol}://${req.host}`;
    return { success: true, result_url: `${base.replace(/\/$/, '')}/api/v0/results/${token}` };
  });

  // Fetched without auth, as Vast clients fetch their result URLs; the token is the secret.
  app.get('/api/v0/results/:token', async (req: Req, reply) => {
    const text = await control.fetchResult(req.params.token ?? '');
    return reply.type('text/plain; charset=utf-8').send(text);
  });
}

function stateAction(state: string): InstanceAction {
  if (state === 'running') return 'start';
  if (state === 'stopped') return 'stop';
  throw new GantryError('INVALID_ARGUMENT', `'state' must be "running" or "stopped", got ${JSON.stringify(state)}.`, { field: 'state' });
}

function idList(v: unknown, field: string): number[] {
  if (!Array.isArray(v)) throw new GantryError('INVALID_ARGUMENT', `'${field}' must be a list of instance ids.`, { field });
  return v.map((x) => parseId(x));
}

function bulkBody(results: Awaited<ReturnType<ControlPlane['bulkChangeInstances']>>): Record<string, unknown> {
  return {
    success: results.every((r) => r.ok),
    results: results.map((r) =>
      r.ok ? { id: r.id, success: true, changed: r.changed } : { id: r.id, success: false, error: r.error?.code, msg: r.error?.message },
    ),
  };
}
