import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import { GantryError } from '../../../domain/errors.js';
import type { InstanceAction } from '../../../domain/instance/intent.js';
import type { ApiDialect, EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { vastAccountRoutes } from './accounts.js';
import { vastBillingRoutes } from './billing.js';
import { vastBidRoutes } from './bids.js';
import { vastInstanceAccessRoutes } from './instance-access.js';
import { vastErrorBody } from './errors.js';
import { vastCredential } from './credential.js';
import { endpointDataRoute } from './endpoint-proxy.js';
import { pageInstances } from './instances-v1.js';
import { vastInstanceListing } from './instance-listing.js';
import { vastMachineRoutes } from './machines.js';
import { vastHostRoutes } from './hosts.js';
import { vastProfileRoutes } from './profile.js';
import { vastInstance } from './map.js';
import { parseVastSearch, VAST_SEARCH_ANSWER_SCHEMA, vastOfferRow } from './offers.js';
import { asObject, jsonParam, optNumber, optString, parseCreateInstance, parseId } from './parse.js';
import { vastRouteConfig } from './route-config.js';
import { vastRoutingRoutes } from './routing.js';
import { vastServerlessRoutes } from './serverless.js';
import { vastCodeDeploymentRoutes } from './code-deployments.js';
import { vastTemplateInstanceRoutes } from './template-instances.js';
import { templateRefOf, vastTemplateRoutes } from './templates.js';
import { vastVolumeRoutes } from './volumes.js';
import { vastWorkloadRoutes } from './workloads.js';
import { showValue } from '../../../domain/show.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/**
 * The Vast.ai REST dialect (`/api/v0`, `/api/v1`, and the serverless paths). It only translates:
 * request → core call, core result or error → Vast's shapes. Every response is
 * `Content-Type: application/json` exactly, because the official CLI compares that string.
 */
export const vastDialect: ApiDialect = {
  name: 'vast',
  prefixes: ['/api/', '/endpoints/', '/route', '/worker_status', '/delete_requests', '/get_', '/pubkey', '/report/', '/update_workers'],
  errorBody: vastErrorBody,
  credential: vastCredential,
  credentialInBody: true,
  routeConfig: vastRouteConfig,
  dataRoutes: (deps) => [endpointDataRoute(deps.control, deps.gateway)],
  routes: vastRoutes,
};

async function vastRoutes(app: FastifyInstance, opts: EdgeDeps): Promise<void> {
  const { control } = opts;
  const now = (): number => control.now();

  const intentBody = (action: InstanceAction, r: { changed: boolean }, id: number): Record<string, unknown> => ({
    success: true,
    msg: r.changed
      ? `${action} requested for instance ${id}`
      : `instance ${id}: already ${action === 'stop' ? 'stopped or stopping' : action === 'destroy' ? 'being destroyed' : 'in that state'}`,
  });

  // ── account and catalogue (the user's own account: profile.ts) ─────
  // The legacy CLI calls this unauthenticated at start-up.
  app.get('/api/v0/gpu_names/unique', async () => {
    const names = new Set((await control.listMachines()).filter((m) => m.listed && m.numGpus > 0).map((m) => m.gpuName));
    return { gpu_names: [...names].sort() };
  });

  const search = async (req: FastifyRequest, body: unknown): Promise<Record<string, unknown>> => {
    const p = principal(req);
    return { offers: (await control.searchOffers(p, parseVastSearch(body))).map(vastOfferRow) };
  };
  const answer = { schema: { response: { 200: VAST_SEARCH_ANSWER_SCHEMA } } };
  app.post('/api/v0/bundles', answer, (req) => search(req, req.body));
  app.put('/api/v0/search/asks', answer, (req) => search(req, req.body));
  app.get('/api/v0/bundles', answer, (req: Req) => search(req, jsonParam(req.query.q) ?? {}));

  vastMachineRoutes(app, control);
  vastHostRoutes(app, control);
  vastServerlessRoutes(app, control);
  await vastCodeDeploymentRoutes(app, control, (req) => (opts.publicUrl ?? `${req.protocol}://${req.host}`).replace(/\/$/, ''));
  vastAccountRoutes(app, control);
  vastProfileRoutes(app, control);
  vastBillingRoutes(app, control);
  vastBidRoutes(app, control);
  vastVolumeRoutes(app, control);
  vastWorkloadRoutes(app, control);
  vastInstanceAccessRoutes(app, opts);
  await vastRoutingRoutes(app, { control, gateway: opts.gateway });

  // ── instances ──────────────────────────────────────────────────────
  app.put('/api/v0/asks/:id', async (req: Req) => {
    const p = principal(req);
    const offer = parseId(req.params.id, 'offer id');
    // A template the body names (template_hash_id / template_id) gives the defaults (templates.ts).
    const template = await control.templates.resolve(p, templateRefOf(asObject(req.body)), 'instance.create');
    const created = await control.createInstance(p, parseCreateInstance(offer, req.body, template));
    return { success: true, new_contract: created.instance.id, instance_api_key: created.instanceApiKey };
  });
  vastTemplateRoutes(app, control);
  vastTemplateInstanceRoutes(app, control);

  app.get('/api/v0/instances', async (req, reply) => {
    const views = await control.listInstances(principal(req));
    return reply.type('application/json').send(vastInstanceListing(views, now()));
  });
  app.get('/api/v1/instances', async (req: Req) => {
    const p = principal(req);
    return pageInstances(
      (await control.listInstances(p)).map((v) => vastInstance(v, now())),
      req.query,
    );
  });
  app.get('/api/v0/instances/:id', async (req: Req) => {
    const p = principal(req);
    return { instances: vastInstance(await control.showInstance(p, parseId(req.params.id)), now()) };
  });

  app.put('/api/v0/instances/:id', async (req: Req) => {
    const p = principal(req);
    const id = parseId(req.params.id);
    const body = asObject(req.body);
    // All of it is checked (the label and the right to set it too), and the state changed, before the label is:
    // a refused request changes nothing.
    const given = body.label === undefined ? undefined : optString(body, 'label');
    const label = given === undefined ? undefined : given === '' ? null : given;
    const state = optString(body, 'state');
    if (state === null) {
      if (label === undefined) throw new GantryError('INVALID_ARGUMENT', 'Give "state" ("running" or "stopped") or "label".', { field: 'state' });
      await control.labelInstance(p, id, label);
      return { success: true };
    }
    const action = stateAction(state);
    if (label !== undefined) await control.labelInstance(p, id, label, { checkOnly: true }); // its right too, before the change
    const answer = intentBody(action, await control.changeInstance(p, id, action), id);
    if (label !== undefined) await control.labelInstance(p, id, label);
    return answer;
  });

  app.put('/api/v0/instances', async (req) => {
    const p = principal(req);
    const body = asObject(req.body);
    const action = stateAction(optString(body, 'state'));
    const ids = idList(body.ids ?? body.instance_ids, 'ids');
    return bulkBody(await control.bulkChangeInstances(p, ids, action));
  });
  app.delete('/api/v0/instances', async (req) => {
    const p = principal(req);
    const body = asObject(req.body);
    return bulkBody(await control.bulkChangeInstances(p, idList(body.instance_ids ?? body.ids, 'instance_ids'), 'destroy'));
  });

  for (const action of ['reboot', 'recycle'] as const) {
    app.put(`/api/v0/instances/${action}/:id`, async (req: Req) => {
      const p = principal(req);
      const id = parseId(req.params.id);
      return intentBody(action, await control.changeInstance(p, id, action), id);
    });
  }

  app.delete('/api/v0/instances/:id', async (req: Req) => {
    const p = principal(req);
    const id = parseId(req.params.id);
    return intentBody('destroy', await control.changeInstance(p, id, 'destroy'), id);
  });

  app.put('/api/v0/instances/request_logs/:id', async (req: Req) => {
    const p = principal(req);
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

function stateAction(state: string | null): InstanceAction {
  if (state === null) throw new GantryError('INVALID_ARGUMENT', `'state' is missing: give "running" or "stopped".`, { field: 'state' });
  if (state === 'running') return 'start';
  if (state === 'stopped') return 'stop';
  throw new GantryError('INVALID_ARGUMENT', `'state' must be "running" or "stopped", got ${showValue(state)}.`, { field: 'state' });
}

function idList(v: unknown, field: string): number[] {
  if (!Array.isArray(v)) throw new GantryError('INVALID_ARGUMENT', `'${field}' must be a list of instance ids.`, { field });
  return v.map((x) => parseId(x));
}

function bulkBody(results: Awaited<ReturnType<ControlPlane['bulkChangeInstances']>>): Record<string, unknown> {
  const failed = results.filter((r) => !r.ok);
  return {
    success: failed.length === 0,
    // The clients print `msg` when success is false (the legacy one requires it).
    ...(failed.length > 0 ? { msg: failed.map((r) => `instance ${r.id}: ${r.error?.message ?? 'failed'}`).join('; ') } : {}),
    results: results.map((r) =>
      r.ok ? { id: r.id, success: true, changed: r.changed } : { id: r.id, success: false, error: r.error?.code, msg: r.error?.message },
    ),
  };
}
