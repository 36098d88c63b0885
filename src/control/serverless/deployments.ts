import { GantryError } from '../../domain/errors.js';
import type { EndpointParamsPatch } from '../../domain/serverless/params.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { changeOwnedEndpoint, type EndpointChangeResult, type StopRequest } from './change-endpoint.js';
import { createEndpoint, loadOwnEndpoint, validName, type ServerlessAction } from './endpoints.js';
import { createWorkergroup, type WorkergroupInput } from './workergroups.js';
import type { PendingWork } from './traffic-gate.js';
import { workersOf, type WorkerInfo } from './workers.js';
import type { DeploymentRecord, EndpointRecord, WorkergroupRecord } from '../../domain/serverless/records.js';

/** A deployment owns one endpoint and its workergroup; its lifecycle is the endpoint's. */
export interface DeploymentView {
  readonly deployment: DeploymentRecord;
  readonly endpoint: EndpointRecord;
  readonly workergroup: WorkergroupRecord | null;
  readonly workers: readonly WorkerInfo[];
  /** Requests this replica's gateway holds for the deployment now. */
  readonly pending: PendingWork;
}

export interface NewDeploymentRequest extends WorkergroupInput {
  readonly name: string;
  readonly tag: string | null;
  readonly params: EndpointParamsPatch;
}

export async function createDeployment(ctx: ControlContext, p: Principal, r: NewDeploymentRequest): Promise<DeploymentView> {
  authorize(p, 'serverless.write');
  validName(r.name, 'deploymentName');
  const endpoint = await createEndpoint(ctx, p, { name: r.name, params: r.params, aliasOf: null });
  try {
    const workergroup = await createWorkergroup(ctx, p, endpoint.id, r);
    const deployment = await ctx.store.createDeployment({
      accountId: p.accountId,
      name: r.name,
      tag: r.tag ?? 'default',
      endpointId: endpoint.id,
      workergroupId: workergroup.id,
      now: ctx.clock.now(),
    });
    ctx.log.info({ deploymentId: deployment.id, endpointId: endpoint.id }, 'deployment created');
    return { deployment, endpoint, workergroup, workers: [], pending: ctx.traffic.pending(endpoint.id) };
  } catch (err) {
    // The template was refused: take the endpoint back so the name is free again.
    await changeOwnedEndpoint(ctx, p, endpoint.id, 'delete', { stopFirst: true });
    throw err;
  }
}

async function ownDeployment(ctx: ControlContext, p: Principal, id: number, action: ServerlessAction): Promise<DeploymentRecord> {
  authorize(p, action, id);
  const d = await ctx.store.getDeployment(id);
  if (!d || (d.accountId !== p.accountId && !p.isAdmin)) throw new GantryError('DEPLOYMENT_NOT_FOUND', `No deployment with id ${id}.`, { deploymentId: id });
  return d;
}

async function view(ctx: ControlContext, d: DeploymentRecord, endpoint: EndpointRecord): Promise<DeploymentView> {
  return {
    deployment: d,
    endpoint,
    workergroup: (await ctx.store.getWorkergroup(d.workergroupId)) ?? null,
    workers: await workersOf(ctx, endpoint.id),
    pending: ctx.traffic.pending(endpoint.id),
  };
}

export async function showDeployment(ctx: ControlContext, p: Principal, id: number): Promise<DeploymentView> {
  const d = await ownDeployment(ctx, p, id, 'serverless.read');
  return view(ctx, d, await loadOwnEndpoint(ctx, p, d.endpointId));
}

export async function listDeployments(ctx: ControlContext, p: Principal): Promise<DeploymentView[]> {
  authorize(p, 'serverless.read');
  const out: DeploymentView[] = [];
  for (const d of await ctx.store.listDeployments(p.accountId)) {
    const ep = await ctx.store.getEndpoint(d.endpointId);
    if (ep && ep.status !== 'deleted') out.push(await view(ctx, d, ep));
  }
  return out;
}

export async function stopDeployment(ctx: ControlContext, p: Principal, id: number, stop: StopRequest): Promise<EndpointChangeResult> {
  const d = await ownDeployment(ctx, p, id, 'serverless.write');
  return changeOwnedEndpoint(ctx, p, d.endpointId, 'stop', { stop });
}

export async function startDeployment(ctx: ControlContext, p: Principal, id: number): Promise<EndpointChangeResult> {
  const d = await ownDeployment(ctx, p, id, 'serverless.write');
  return changeOwnedEndpoint(ctx, p, d.endpointId, 'start');
}

/** Vast's delete: stop (destroying the workers) and delete in one call. */
export async function deleteDeployment(ctx: ControlContext, p: Principal, id: number, force: boolean): Promise<EndpointChangeResult> {
  const d = await ownDeployment(ctx, p, id, 'serverless.write');
  return changeOwnedEndpoint(ctx, p, d.endpointId, 'delete', { stopFirst: true, stop: { finishPendingWork: false, force, timeoutMs: null } });
}
