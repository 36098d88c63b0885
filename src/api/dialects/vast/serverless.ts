import type { FastifyInstance, FastifyRequest } from 'fastify';
import { principal } from '../../edge/principal.js';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { StopRequest } from '../../../control/serverless/change-endpoint.js';
import type { WorkergroupInput } from '../../../control/serverless/workergroups.js';
import type { WorkerReadiness } from '../../../domain/serverless/records.js';
import { GantryError } from '../../../domain/errors.js';
import { DEFAULT_ENDPOINT_PARAMS, mergeEndpointParams } from '../../../domain/serverless/params.js';
import { vastParamsPatch } from './endpoint-params.js';
import { templatePlacement, vastPlacement } from './offers.js';
import type { WorkerPlacement } from '../../../domain/offer/search.js';
import { asObject, optBool, optId, optNumber, optSearchText, optString, optStringList, parseId } from './parse.js';
import { vastEndpoint, vastWorkergroup } from './serverless-map.js';
import { vastServerlessWorkerRoutes } from './serverless-workers.js';
import { vastDeploymentRoutes } from './serverless-deployments.js';
import { templateNamed, withTemplateSource } from './workergroup-template.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/**
 * `search_params` in the CLI's search language, or as offer filters in JSON (the SDK's object form, as a
 * template's `extra_filters`); the SDK's default `{}` sets nothing.
 */
function placementOf(o: Record<string, unknown>): WorkerPlacement | null {
  const sp = o.search_params;
  if (typeof sp === 'object' && sp !== null && !Array.isArray(sp)) return templatePlacement(sp as Record<string, unknown>);
  const text = optSearchText(o, 'search_params');
  return text === null ? null : vastPlacement(text);
}

/** Gantry's extension `readiness`: "http" makes probe-ready workers (docs/probe-workers.md); "report" is Vast's own. */
function readinessOf(o: Record<string, unknown>): WorkerReadiness | undefined {
  const r = optString(o, 'readiness');
  if (r === null) return undefined;
  if (r !== 'report' && r !== 'http')
    throw new GantryError('INVALID_ARGUMENT', `'readiness' must be "report" or "http", got ${JSON.stringify(r)}.`, { field: 'readiness' });
  return r;
}

export function workergroupInput(o: Record<string, unknown>): WorkergroupInput {
  // Vast's clients send the scaling fields with every workergroup (their CLI's defaults too). Here they are
  // the endpoint's alone: a workergroup's are checked as an endpoint's are (a bad one is a 400) and not applied.
  mergeEndpointParams(DEFAULT_ENDPOINT_PARAMS, vastParamsPatch(o));
  const argsStr = optString(o, 'args_str');
  return {
    template: {
      image: optString(o, 'image'),
      env: o.env,
      onstart: optString(o, 'onstart') ?? optString(o, 'onstart_cmd'),
      entrypoint: optString(o, 'entrypoint'),
      readiness: readinessOf(o),
      args: optStringList(o, 'args') ?? (argsStr !== null ? argsStr.split(/\s+/).filter((x) => x !== '') : null),
      diskGb: optNumber(o, 'disk'),
    },
    placement: placementOf(o),
    launchArgs: optString(o, 'launch_args'),
    gpuRamGb: optNumber(o, 'gpu_ram'),
    testWorkers: optNumber(o, 'test_workers'),
  };
}

/** Stop options from the query string or the JSON body (finish_pending_work, force, timeout in seconds). */
export function stopRequest(req: Req): StopRequest {
  const merged = { ...asObject(req.body), ...req.query };
  const timeout = optNumber(merged, 'timeout');
  return {
    finishPendingWork: optBool(merged, 'finish_pending_work') ?? false,
    force: optBool(merged, 'force') ?? false,
    timeoutMs: timeout === null ? null : timeout * 1000,
  };
}

/** Vast's serverless resources: endpoints (endptjobs), workergroups (also autojobs), deployments. */
export function vastServerlessRoutes(app: FastifyInstance, control: ControlPlane): void {
  const sl = control.serverless;

  // ── endpoints ──────────────────────────────────────────────────────
  app.post('/api/v0/endptjobs', async (req) => {
    const o = asObject(req.body);
    const ep = await sl.createEndpoint(principal(req), { name: optString(o, 'endpoint_name'), params: vastParamsPatch(o), aliasOf: optString(o, 'alias_of') });
    return { success: true, result: ep.id, id: ep.id, api_key: ep.apiKey };
  });
  app.get('/api/v0/endptjobs', async (req) => ({ success: true, results: (await sl.listEndpoints(principal(req))).map(vastEndpoint) }));
  // The serverless client reads one endpoint this way (fetch_endpoint): `result` is the row.
  app.get('/api/v0/endptjobs/:id', async (req: Req) => ({
    success: true,
    result: vastEndpoint(await sl.showEndpoint(principal(req), parseId(req.params.id, 'endpoint id'))),
  }));
  app.put('/api/v0/endptjobs/:id', async (req: Req) => {
    const p = principal(req);
    const id = parseId(req.params.id, 'endpoint id');
    const o = asObject(req.body);
    const state = optString(o, 'endpoint_state');
    if (state !== null && state !== 'active' && state !== 'suspended' && state !== 'stopped') {
      throw new GantryError('INVALID_ARGUMENT', `'endpoint_state' must be active, suspended or stopped, got ${JSON.stringify(state)}.`, {
        field: 'endpoint_state',
      });
    }
    // Vast's endpoint_state: active and suspended set the suspension; stopped is a stop (below).
    const suspended = state === 'active' ? false : state === 'suspended' ? true : null;
    // `alias_of` sent is checked (only the endpoint's own value is taken), never dropped as if it had been applied.
    const aliasOf = o.alias_of === undefined ? undefined : optString(o, 'alias_of');
    const next = state === 'stopped' ? 'stop' : state !== null ? 'start' : undefined;
    // Active again: a stopped endpoint starts, and so does a dead one (its workers kept failing).
    await sl.updateEndpoint(p, id, { name: optString(o, 'endpoint_name'), params: vastParamsPatch(o), suspended, aliasOf, next });
    return { success: true };
  });
  app.delete('/api/v0/endptjobs/:id', async (req: Req) => {
    const p = principal(req);
    const id = parseId(req.params.id, 'endpoint id');
    const workers = await sl.endpointWorkers(p, id);
    await sl.changeEndpoint(p, id, 'delete', {
      stopFirst: true,
      stop: { finishPendingWork: false, force: optBool(asObject(req.body), 'force') ?? false, timeoutMs: null },
    });
    const ids = workers.map((w) => w.instance.id);
    return { success: true, deleted_workers: ids, failed_workers: [], msg: `Deleting endpoint ${id} and ${ids.length} worker(s)` };
  });

  // ── workergroups (the CLI calls them autojobs) ─────────────────────
  for (const base of ['/api/v0/workergroups', '/api/v0/autojobs']) {
    app.post(base, async (req) => {
      const p = principal(req);
      const o = asObject(req.body);
      const byId = optId(o, 'endpoint_id', 'endpoint id');
      const name = optString(o, 'endpoint_name');
      const ep = byId !== null ? await sl.showEndpoint(p, byId) : name !== null ? await sl.findEndpoint(p, name) : undefined;
      if (ep === undefined)
        throw new GantryError('INVALID_ARGUMENT', 'Please assign your workergroup to a valid endpoint identifier (endpoint_id or endpoint_name).', {
          field: 'endpoint_id',
        });
      const wg = await sl.createWorkergroup(p, ep.id, await withTemplateSource(control, p, o, workergroupInput(o)));
      return { success: true, id: wg.id };
    });
    app.get(base, async (req) => {
      const p = principal(req);
      const eps = new Map((await sl.listEndpoints(p)).map((e) => [e.id, e]));
      return { success: true, results: (await sl.listWorkergroups(p)).map((wg) => vastWorkergroup(wg, eps.get(wg.endpointId))) };
    });
    app.put(`${base}/:id`, async (req: Req) => {
      const p = principal(req);
      const o = asObject(req.body);
      // A template named (`--template_hash`, `--template_id`) becomes the workergroup's source, as at create.
      const fromTemplate = templateNamed(o);
      const input = fromTemplate ? await withTemplateSource(control, p, o, workergroupInput(o)) : workergroupInput(o);
      const t = input.template;
      const changesTemplate =
        fromTemplate ||
        t.image !== null ||
        o.env !== undefined ||
        t.onstart !== null ||
        t.args !== null ||
        t.diskGb !== null ||
        t.entrypoint !== null ||
        t.readiness !== undefined;
      const endpointId = optId(o, 'endpoint_id', 'endpoint id');
      await sl.updateWorkergroup(p, parseId(req.params.id, 'workergroup id'), {
        ...(changesTemplate ? { template: t, fromTemplate } : {}),
        ...(input.placement !== null ? { placement: input.placement } : {}),
        ...(input.launchArgs !== null ? { launchArgs: input.launchArgs } : {}),
        ...(input.gpuRamGb !== null ? { gpuRamGb: input.gpuRamGb } : {}),
        ...(input.testWorkers !== null ? { testWorkers: input.testWorkers } : {}),
        ...(endpointId !== null ? { endpointId } : {}),
      });
      return { success: true };
    });
    app.delete(`${base}/:id`, async (req: Req) => {
      const id = parseId(req.params.id, 'workergroup id');
      const ids = await sl.deleteWorkergroup(principal(req), id);
      return { success: true, deleted_workers: ids, failed_workers: [], msg: `Deleted workergroup and ${ids.length} workers` };
    });
  }

  vastServerlessWorkerRoutes(app, control);
  vastDeploymentRoutes(app, control, { workergroupInput, stopRequest });
}
