import { withTemplateSource } from './workergroup-template.js';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { principal } from '../../edge/principal.js';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { StopRequest } from '../../../control/serverless/change-endpoint.js';
import type { DeploymentView } from '../../../control/serverless/deployments.js';
import type { WorkergroupInput } from '../../../control/serverless/workergroups.js';
import { GantryError } from '../../../domain/errors.js';
import { vastParamsPatch } from './endpoint-params.js';
import { asObject, optString, parseId } from './parse.js';
import { endpointState, vastDeployment } from './serverless-map.js';
import { vastCodeVersion } from './code-deployments.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/** What the deployment routes share with the workergroup routes (passed in: serverless.ts registers these). */
export interface DeploymentRouteHelpers {
  workergroupInput(o: Record<string, unknown>): WorkergroupInput;
  stopRequest(req: Req): StopRequest;
}

/**
 * A deployment's versions as Gantry keeps them: the workergroup that serves and, during a change of
 * configuration, the one it rolls over to. Older revisions are not kept (a code deployment lists its code versions).
 */
export function vastVersions(v: DeploymentView): Record<string, unknown>[] {
  const groups = [v.workergroup, v.next].filter((g, i, all) => g !== null && all.indexOf(g) === i);
  return groups.map((g) => {
    const wg = g as NonNullable<typeof g>;
    return {
      id: wg.id,
      deployment_id: v.deployment.id,
      workergroup_id: wg.id,
      version_label: wg.revision ?? `workergroup-${wg.id}`,
      image: wg.template.image,
      status: wg === v.workergroup ? 'current' : 'rolling_out',
      workers: v.workers.filter((w) => w.instance.workergroupId === wg.id).length,
      created_at: wg.createdAt / 1000,
    };
  });
}

/** Vast's deployments: create (Gantry's POST), list, show, versions, stop, start, delete by id or by name. */
export function vastDeploymentRoutes(app: FastifyInstance, control: ControlPlane, h: DeploymentRouteHelpers): void {
  const sl = control.serverless;
  app.post('/api/v0/deployments', async (req) => {
    const p = principal(req);
    const o = asObject(req.body);
    const name = optString(o, 'name');
    if (name === null) throw new GantryError('INVALID_ARGUMENT', "'name' is required.", { field: 'name' });
    const v = await sl.createDeployment(p, {
      ...(await withTemplateSource(control, p, o, h.workergroupInput(o))),
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
  // `delete deployment --name N [--tag T]`: every deployment of that name (of that tag only, when given).
  app.delete('/api/v0/deployments', async (req) => {
    const o = asObject(req.body);
    const name = optString(o, 'name');
    if (name === null) throw new GantryError('INVALID_ARGUMENT', "'name' is required: the name of the deployments to delete.", { field: 'name' });
    const ids = await sl.deleteDeploymentsByName(principal(req), name, optString(o, 'tag'));
    return { success: true, count: ids.length, deleted: ids, msg: `Deleting ${ids.length} deployment(s) named '${name}'.` };
  });
  app.get('/api/v0/deployment/:id', async (req: Req) => ({
    success: true,
    deployment: vastDeployment(await sl.showDeployment(principal(req), parseId(req.params.id, 'deployment id'))),
  }));
  // A code deployment's versions are its code versions (each file_hash); an image deployment's, its workergroups.
  app.get('/api/v0/deployment/:id/versions', async (req: Req) => {
    const id = parseId(req.params.id, 'deployment id');
    const code = await sl.codeVersions(principal(req), id);
    if (code !== null) return { success: true, versions: code.versions.map((v) => vastCodeVersion(v, code.code.currentVersionId)) };
    return { success: true, versions: vastVersions(await sl.showDeployment(principal(req), id)) };
  });
  app.post('/api/v0/deployment/:id/stop', async (req: Req) => {
    const r = await sl.stopDeployment(principal(req), parseId(req.params.id, 'deployment id'), h.stopRequest(req), { stopUnscheduled: true });
    // endpoint_state reads `stopped` from the call on (Vast's); gantry_status says whether it is still stopping.
    return { success: true, endpoint_state: endpointState(r.endpoint), gantry_status: r.endpoint.status };
  });
  app.post('/api/v0/deployment/:id/start', async (req: Req) => {
    const r = await sl.startDeployment(principal(req), parseId(req.params.id, 'deployment id'));
    return { success: true, endpoint_state: endpointState(r.endpoint), gantry_status: r.endpoint.status };
  });
  app.delete('/api/v0/deployment/:id', async (req: Req) => {
    const id = parseId(req.params.id, 'deployment id');
    await sl.deleteDeployment(principal(req), id, h.stopRequest(req).force);
    return { success: true, msg: `Deployment ${id} is being deleted: its workers are destroyed, then the deployment is removed.` };
  });
}
