import { GantryError } from '../../domain/errors.js';
import { replicaParams, type EndpointParamsPatch } from '../../domain/serverless/params.js';
import type { EndpointLimits } from '../../domain/serverless/limits.js';
import { parseTtl } from '../../domain/serverless/ttl.js';
import { requireResourceGroup } from '../accounts/resource-groups.js';
import type { ControlContext } from '../context.js';
import { newDeploymentUid } from '../keys.js';
import { authorize, type Principal } from '../principal.js';
import { changeOwnedEndpoint, type EndpointChangeResult, type StopRequest } from './change-endpoint.js';
import { createEndpoint, loadOwnEndpoint, validName, type ServerlessAction } from './endpoints.js';
import { checkWorkergroupInput, createWorkergroup, type WorkergroupInput } from './workergroups.js';
import type { PendingWork } from './traffic-gate.js';
import { workersOf, type WorkerInfo } from './workers.js';
import type { DeploymentRecord, DeploymentSource, EndpointRecord, WorkergroupRecord } from '../../domain/serverless/records.js';
import type { CodeDeploymentRecord, CodeVersionRecord } from '../../domain/serverless/code-deployment.js';

/** A deployment owns one endpoint and its workergroups; its lifecycle is the endpoint's. */
export interface DeploymentView {
  readonly deployment: DeploymentRecord;
  readonly endpoint: EndpointRecord;
  /** The workergroup that serves (the oldest live one; during a change of configuration the next is in `next`). */
  readonly workergroup: WorkergroupRecord | null;
  /** The workergroup a change of configuration is rolling over to, until it serves. */
  readonly next: WorkergroupRecord | null;
  readonly workers: readonly WorkerInfo[];
  /** Requests this replica's gateway holds for the deployment now. */
  readonly pending: PendingWork;
  /** A code deployment's code side and current version (decision 020); absent for one made from an image. */
  readonly code?: { readonly record: CodeDeploymentRecord; readonly current: CodeVersionRecord | null };
}

export interface NewDeploymentRequest extends WorkergroupInput {
  /** Null: `deployment-<public id>`. */
  readonly name: string | null;
  /** The endpoint's name when it differs from the deployment's (a code deployment's tag other than `default`). */
  readonly endpointName?: string;
  readonly tag: string | null;
  readonly params: EndpointParamsPatch;
  /** The account's resource group it lives in (default `default`). */
  readonly resourceGroup?: string;
  /** What it is made from; its replicas bound the workers, its id is the workergroup's revision. */
  readonly source?: DeploymentSource | null;
  /** Time to live (`10m`, `24h`, `2d`): stopped and deleted when it runs out. */
  readonly ttl?: string | null;
  /** Per-worker concurrency and the queue's bound (Elasticsearch: 1 per allocation, queue_capacity); absent: none. */
  readonly limits?: Partial<EndpointLimits>;
  /** The trained model its workers serve: the deployment is written only while the model exists, fully defined (NewDeployment). */
  readonly servesModel?: string;
}

/**
 * Where a public id is looked up: a resource group, and whether only deployments made from a configuration
 * count (`fromConfiguration`: AI Core's, whose API made them; another, made through the Vast or Elasticsearch
 * API, is not there for it: "not found", as its list does not show it either).
 */
export interface DeploymentScope {
  readonly resourceGroup: string;
  readonly fromConfiguration?: boolean;
}

/** Which deployment a call names: the engine id, or the public id within a scope. */
export type DeploymentRef = { readonly id: number } | (DeploymentScope & { readonly uid: string });

/** Whether the deployment is one its scope holds: the one rule for AI Core's lists and its calls by id. */
function inScope(d: DeploymentRecord, scope: { readonly fromConfiguration?: boolean }): boolean {
  return scope.fromConfiguration !== true || d.source !== null;
}

export async function createDeployment(ctx: ControlContext, p: Principal, r: NewDeploymentRequest): Promise<DeploymentView> {
  authorize(p, 'serverless.write');
  const resourceGroup = r.resourceGroup ?? 'default';
  await requireResourceGroup(ctx, p, resourceGroup);
  const now = ctx.clock.now();
  const expiresAt = r.ttl === undefined || r.ttl === null ? null : now + parseTtl(r.ttl, ctx.settings.deploymentTtlMinimumMs);
  const uid = newDeploymentUid();
  const name = validName(r.name ?? `deployment-${uid}`, 'deploymentName');
  const source = r.source ?? null;
  const params: EndpointParamsPatch = source === null ? r.params : { ...r.params, ...replicaParams(source) };
  // Refuse bad input before anything is written: a refused create leaves no rows behind.
  checkWorkergroupInput(r);
  const endpoint = await createEndpoint(ctx, p, {
    name: r.endpointName ?? name,
    params,
    aliasOf: null,
    ...(r.limits !== undefined ? { limits: r.limits } : {}),
  });
  try {
    const workergroup = await createWorkergroup(ctx, p, endpoint.id, r, { revision: source?.configurationId ?? null });
    const deployment = await ctx.store.createDeployment({
      accountId: p.accountId,
      uid,
      resourceGroup,
      name,
      tag: r.tag ?? 'default',
      endpointId: endpoint.id,
      workergroupId: workergroup.id,
      source,
      ttl: r.ttl ?? null,
      expiresAt,
      ...(r.servesModel !== undefined ? { servesModel: r.servesModel } : {}),
      now,
    });
    ctx.log.info({ deploymentId: deployment.id, uid, endpointId: endpoint.id }, 'deployment created');
    return { deployment, endpoint, workergroup, next: null, workers: [], pending: ctx.traffic.pending(endpoint.id) };
  } catch (err) {
    // The template was refused, or the model it serves is gone: take the endpoint back so the name is free again.
    await changeOwnedEndpoint(ctx, p, endpoint.id, 'delete', { stopFirst: true });
    throw err;
  }
}

/** The deployment a call names, after checking the action; another account's or group's answers "not found". */
export async function ownDeployment(ctx: ControlContext, p: Principal, ref: DeploymentRef, action: ServerlessAction): Promise<DeploymentRecord> {
  authorize(p, action, 'id' in ref ? { kind: 'deployment', id: ref.id } : null);
  const d = 'id' in ref ? await ctx.store.getDeployment(ref.id) : await ctx.store.findDeploymentByUid(ref.uid);
  const visible = d !== undefined && (d.accountId === p.accountId || p.isAdmin) && ('id' in ref || (d.resourceGroup === ref.resourceGroup && inScope(d, ref)));
  if (!visible) {
    const named = 'id' in ref ? `id ${ref.id}` : `id ${ref.uid} in resource group '${ref.resourceGroup}'`;
    throw new GantryError('DEPLOYMENT_NOT_FOUND', `No deployment with ${named}.`, { deploymentId: 'id' in ref ? ref.id : ref.uid });
  }
  return d;
}

async function view(ctx: ControlContext, d: DeploymentRecord, endpoint: EndpointRecord): Promise<DeploymentView> {
  const groups = await ctx.store.listWorkergroups({ endpointId: endpoint.id });
  return {
    deployment: d,
    endpoint,
    workergroup: groups[0] ?? (await ctx.store.getWorkergroup(d.workergroupId)) ?? null,
    next: groups.length > 1 ? (groups[groups.length - 1] as WorkergroupRecord) : null,
    workers: await workersOf(ctx, endpoint.id),
    pending: ctx.traffic.pending(endpoint.id),
    ...(await codeOf(ctx, d.id)),
  };
}

async function codeOf(ctx: ControlContext, deploymentId: number): Promise<Pick<DeploymentView, 'code'>> {
  const record = await ctx.store.getCodeDeployment(deploymentId);
  if (record === undefined) return {};
  const current = record.currentVersionId === null ? null : ((await ctx.store.getCodeVersion(record.currentVersionId)) ?? null);
  return { code: { record, current } };
}

export async function showDeployment(ctx: ControlContext, p: Principal, ref: DeploymentRef | number): Promise<DeploymentView> {
  const d = await ownDeployment(ctx, p, typeof ref === 'number' ? { id: ref } : ref, 'serverless.read');
  return view(ctx, d, await loadOwnEndpoint(ctx, p, d.endpointId));
}

/** The caller's deployments; of one resource group (scope) when named. */
export async function listDeployments(ctx: ControlContext, p: Principal, o: Partial<DeploymentScope> = {}): Promise<DeploymentView[]> {
  authorize(p, 'serverless.read');
  if (o.resourceGroup !== undefined) await requireResourceGroup(ctx, p, o.resourceGroup);
  const out: DeploymentView[] = [];
  const stored = await ctx.store.listDeployments(p.accountId, o.resourceGroup === undefined ? {} : { resourceGroup: o.resourceGroup });
  for (const d of stored.filter((x) => inScope(x, o))) {
    const ep = await ctx.store.getEndpoint(d.endpointId);
    if (ep && ep.status !== 'deleted') out.push(await view(ctx, d, ep));
  }
  return out;
}

const asRef = (ref: DeploymentRef | number): DeploymentRef => (typeof ref === 'number' ? { id: ref } : ref);

/**
 * A refused transition of the deployment's endpoint, told as the deployment's, by the id its caller
 * used (AI Core's uid, Vast's deployment id): the endpoint's own id means nothing to that caller.
 */
export async function asDeployment<T>(d: DeploymentRecord, ref: DeploymentRef, change: () => Promise<T>): Promise<T> {
  try {
    return await change();
  } catch (err) {
    const { action, why } = err instanceof GantryError ? err.details : {};
    if (!(err instanceof GantryError) || err.code !== 'ILLEGAL_TRANSITION' || typeof action !== 'string' || typeof why !== 'string') throw err;
    const id = 'uid' in ref ? ref.uid : String(d.id);
    throw new GantryError('ILLEGAL_TRANSITION', `Cannot ${action} deployment ${id}: ${why}.`, { ...err.details, deploymentId: id });
  }
}

export async function stopDeployment(
  ctx: ControlContext,
  p: Principal,
  ref: DeploymentRef | number,
  stop: StopRequest,
  o: { readonly stopUnscheduled?: boolean; readonly strict?: boolean } = {},
): Promise<EndpointChangeResult> {
  const d = await ownDeployment(ctx, p, asRef(ref), 'serverless.write');
  return asDeployment(d, asRef(ref), () => changeOwnedEndpoint(ctx, p, d.endpointId, 'stop', { stop, ...o }));
}

export async function startDeployment(
  ctx: ControlContext,
  p: Principal,
  ref: DeploymentRef | number,
  o: { readonly strict?: boolean } = {},
): Promise<EndpointChangeResult> {
  const d = await ownDeployment(ctx, p, asRef(ref), 'serverless.write');
  return asDeployment(d, asRef(ref), () => changeOwnedEndpoint(ctx, p, d.endpointId, 'start', o));
}

/**
 * Delete a deployment. `stopFirst` (Vast's delete) stops and deletes a live one in one call;
 * without it only one that runs nothing (unknown, stopped, failed) may be deleted.
 */
export async function deleteDeployment(
  ctx: ControlContext,
  p: Principal,
  ref: DeploymentRef | number,
  o: { readonly force: boolean; readonly stopFirst: boolean; readonly strict?: boolean },
): Promise<EndpointChangeResult> {
  const d = await ownDeployment(ctx, p, asRef(ref), 'serverless.write');
  const r = await asDeployment(d, asRef(ref), () =>
    changeOwnedEndpoint(ctx, p, d.endpointId, 'delete', {
      stopFirst: o.stopFirst,
      strict: o.strict === true,
      stop: { finishPendingWork: false, force: o.force, timeoutMs: null },
    }),
  );
  if (r.changed) await ctx.store.updateDeployment(d.id, { lastOperation: 'delete', now: ctx.clock.now() });
  return r;
}

/**
 * Vast's `delete deployment --name N [--tag T]`: stop and delete every deployment of the caller with
 * that name (of that tag only, when given); answers their ids. None matching is "not found".
 */
export async function deleteDeploymentsByName(ctx: ControlContext, p: Principal, name: string, tag: string | null): Promise<number[]> {
  authorize(p, 'serverless.write');
  const all = await ctx.store.listDeployments(p.accountId);
  const named = all.filter((d) => d.name === name && (tag === null || d.tag === tag));
  const live: DeploymentRecord[] = [];
  for (const d of named) {
    const ep = await ctx.store.getEndpoint(d.endpointId);
    if (ep !== undefined && ep.target !== 'deleted') live.push(d);
  }
  if (live.length === 0) {
    throw new GantryError('DEPLOYMENT_NOT_FOUND', `No deployment named '${name}'${tag === null ? '' : ` with tag '${tag}'`}.`, { deploymentName: name });
  }
  for (const d of live) await deleteDeployment(ctx, p, d.id, { force: false, stopFirst: true });
  return live.map((d) => d.id);
}
