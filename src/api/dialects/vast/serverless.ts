import type { FastifyInstance, FastifyRequest } from 'fastify';
import { principal } from '../../edge/principal.js';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { Principal } from '../../../control/principal.js';
import type { StopRequest } from '../../../control/serverless/change-endpoint.js';
import type { WorkergroupInput } from '../../../control/serverless/workergroups.js';
import type { WorkerLog } from '../../../control/serverless/worker-logs.js';
import type { WorkerReadiness } from '../../../domain/serverless/records.js';
import { GantryError } from '../../../domain/errors.js';
import { vastParamsPatch } from './endpoint-params.js';
import { vastPlacement } from './offers.js';
import type { WorkerPlacement } from '../../../domain/offer/search.js';
import { asObject, optBool, optNumber, optString, optStringList, parseId } from './parse.js';
import { endpointState, vastDeployment, vastEndpoint, vastWorker, vastWorkergroup } from './serverless-map.js';
import { withTemplateSource } from './workergroup-template.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/** `search_params` in the CLI's search language; an object form (the SDK's) is not read, as before. */
function placementOf(o: Record<string, unknown>): WorkerPlacement | null {
  if (typeof o.search_params === 'object' && o.search_params !== null) return null;
  const text = optString(o, 'search_params');
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

function workergroupInput(o: Record<string, unknown>): WorkergroupInput {
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
function stopRequest(req: Req): StopRequest {
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
    const ep = await sl.updateEndpoint(p, id, { name: optString(o, 'endpoint_name'), params: vastParamsPatch(o), suspended });
    if (state === 'stopped') await sl.changeEndpoint(p, id, 'stop', { stopUnscheduled: true });
    // Active again: a stopped endpoint starts, and so does a dead one (its workers kept failing).
    else if (state !== null && (ep.target !== 'running' || ep.status === 'failed')) await sl.changeEndpoint(p, id, 'start');
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
      const byId = optNumber(o, 'endpoint_id');
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
      const input = workergroupInput(o);
      const t = input.template;
      const changesTemplate =
        t.image !== null ||
        o.env !== undefined ||
        t.onstart !== null ||
        t.args !== null ||
        t.diskGb !== null ||
        t.entrypoint !== null ||
        t.readiness !== undefined;
      const endpointId = optNumber(o, 'endpoint_id');
      await sl.updateWorkergroup(p, parseId(req.params.id, 'workergroup id'), {
        ...(changesTemplate ? { template: t } : {}),
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

  // ── workers and logs ───────────────────────────────────────────────
  const endpointOf = async (p: Principal, o: Record<string, unknown>): Promise<number> => {
    const name = optString(o, 'endpoint');
    if (o.id === undefined && name !== null) {
      const ep = await sl.findEndpoint(p, name);
      if (!ep) throw new GantryError('ENDPOINT_NOT_FOUND', `No endpoint named '${name}'.`);
      return ep.id;
    }
    return parseId(o.id, 'endpoint id');
  };
  app.post('/get_endpoint_workers', async (req) => {
    const p = principal(req);
    return { workers: (await sl.endpointWorkers(p, await endpointOf(p, asObject(req.body)))).map(vastWorker) };
  });
  app.post('/get_workergroup_workers', async (req) => {
    const p = principal(req);
    return { workers: (await sl.workergroupWorkers(p, parseId(asObject(req.body).id, 'workergroup id'))).map(vastWorker) };
  });
  const logsText = (logs: readonly WorkerLog[]): string =>
    logs.map((l) => `--- worker ${l.workerId} ---\n${l.text ?? `(logs unavailable: ${l.error ?? 'unknown'})`}`).join('\n');
  app.post('/get_endpoint_logs', async (req) => {
    const p = principal(req);
    const o = asObject(req.body);
    return { logs: logsText(await sl.workerLogs(p, { endpointId: await endpointOf(p, o) }, optNumber(o, 'tail'))) };
  });
  app.post('/get_workergroup_logs', async (req) => {
    const o = asObject(req.body);
    return { logs: logsText(await sl.workerLogs(principal(req), { workergroupId: parseId(o.id, 'workergroup id') }, optNumber(o, 'tail'))) };
  });

  // ── deployments ────────────────────────────────────────────────────
  app.post('/api/v0/deployments', async (req) => {
    const p = principal(req);
    const o = asObject(req.body);
    const name = optString(o, 'name');
    if (name === null) throw new GantryError('INVALID_ARGUMENT', "'name' is required.", { field: 'name' });
    const v = await sl.createDeployment(p, {
      ...(await withTemplateSource(control, p, o, workergroupInput(o))),
      name,
      tag: optString(o, 'tag'),
      params: vastParamsPatch(o),
    });
    return {
      success: true,
      deployment: { id: v.deployment.id, endpoint_id: v.endpoint.id, workergroup_id: v.deployment.workergroupId, api_key: v.endpoint.apiKey },
    };
  });
  app.get('/api/v0/deployments', async (req) => ({ success: true, deployments: (await sl.listDeployments(principal(req))).map(vastDeployment) }));
  app.get('/api/v0/deployment/:id', async (req: Req) => ({
    success: true,
    deployment: vastDeployment(await sl.showDeployment(principal(req), parseId(req.params.id, 'deployment id'))),
  }));
  app.post('/api/v0/deployment/:id/stop', async (req: Req) => {
    const r = await sl.stopDeployment(principal(req), parseId(req.params.id, 'deployment id'), stopRequest(req), { stopUnscheduled: true });
    return { success: true, endpoint_state: endpointState(r.endpoint) };
  });
  app.post('/api/v0/deployment/:id/start', async (req: Req) => {
    const r = await sl.startDeployment(principal(req), parseId(req.params.id, 'deployment id'));
    return { success: true, endpoint_state: endpointState(r.endpoint) };
  });
  app.delete('/api/v0/deployment/:id', async (req: Req) => {
    const id = parseId(req.params.id, 'deployment id');
    await sl.deleteDeployment(principal(req), id, stopRequest(req).force);
    return { success: true, msg: `Deployment ${id} is being deleted: its workers are destroyed, then the deployment is removed.` };
  });
}
