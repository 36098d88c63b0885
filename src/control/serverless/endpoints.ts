import { GantryError } from '../../domain/errors.js';
import { endpointLimits, type EndpointLimits } from '../../domain/serverless/limits.js';
import { DEFAULT_ENDPOINT_PARAMS, mergeEndpointParams, type EndpointParamsPatch } from '../../domain/serverless/params.js';
import type { ControlContext } from '../context.js';
import { newEndpointKey } from '../keys.js';
import { authorize, type Principal } from '../principal.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

export function validName(name: string, what: 'endpointName' | 'deploymentName' | 'deploymentTag' = 'endpointName'): string {
  if (!NAME.test(name)) {
    throw new GantryError(
      'INVALID_ARGUMENT',
      `'${what}' must be 1-128 letters, digits, '.', '_' or '-', starting with a letter or digit; got ${JSON.stringify(name)}.`,
      {
        field: what,
      },
    );
  }
  return name;
}

export type ServerlessAction = 'serverless.read' | 'serverless.write';

/** The endpoint the caller named, after checking the action against it. */
export async function ownEndpoint(ctx: ControlContext, p: Principal, id: number, action: ServerlessAction): Promise<EndpointRecord> {
  authorize(p, action, id);
  return loadOwnEndpoint(ctx, p, id);
}

/**
 * An endpoint reached through a resource the caller named and was authorized for (a deployment's,
 * a workergroup's): ownership only, since the key's grants name what the caller named, not this.
 * Another account's endpoint answers "not found", so its existence does not leak.
 */
export async function loadOwnEndpoint(ctx: ControlContext, p: Principal, id: number): Promise<EndpointRecord> {
  const ep = await ctx.store.getEndpoint(id);
  if (!ep || ep.status === 'deleted' || (ep.accountId !== p.accountId && !p.isAdmin)) {
    throw new GantryError('ENDPOINT_NOT_FOUND', `No endpoint with id ${id}.`, { endpointId: id });
  }
  return ep;
}

export interface NewEndpointRequest {
  readonly name: string | null;
  readonly params: EndpointParamsPatch;
  readonly aliasOf: string | null;
  /** Per-worker concurrency and the queue's bound; absent: none (Vast's and AI Core's behaviour). */
  readonly limits?: Partial<EndpointLimits>;
}

export async function createEndpoint(ctx: ControlContext, p: Principal, r: NewEndpointRequest): Promise<EndpointRecord> {
  authorize(p, 'serverless.write');
  const params = mergeEndpointParams(DEFAULT_ENDPOINT_PARAMS, r.params);
  const limits = r.limits === undefined ? undefined : endpointLimits(r.limits);
  const name = validName(r.name ?? `endpoint-${Date.now().toString(36)}`);
  if (r.aliasOf !== null) {
    const target = await ctx.store.findEndpointByName(p.accountId, r.aliasOf);
    if (!target) throw new GantryError('ENDPOINT_NOT_FOUND', `'aliasOf' names no endpoint of yours: '${r.aliasOf}'.`, { field: 'aliasOf' });
    if (target.aliasOf !== null)
      throw new GantryError('INVALID_ARGUMENT', `'aliasOf' names '${r.aliasOf}', itself an alias; point at the endpoint it routes to.`, { field: 'aliasOf' });
  }
  const ep = await ctx.store.createEndpoint({
    accountId: p.accountId,
    name,
    apiKey: newEndpointKey(),
    params,
    ...(limits !== undefined ? { limits } : {}),
    aliasOf: r.aliasOf,
    now: ctx.clock.now(),
    // Each costs a pass of the serverless loop and a traffic record at every gateway; an admin is not bound.
    maxPerAccount: p.isAdmin ? 0 : ctx.settings.maxEndpointsPerAccount,
  });
  ctx.log.info({ endpointId: ep.id, name }, 'endpoint created');
  ctx.endpointSignal.intent(ep.id);
  return ep;
}

/** The caller's live endpoint of that name, if any. */
export async function findEndpoint(ctx: ControlContext, p: Principal, name: string): Promise<EndpointRecord | undefined> {
  authorize(p, 'serverless.read');
  return ctx.store.findEndpointByName(p.accountId, name);
}

export async function listEndpoints(ctx: ControlContext, p: Principal): Promise<EndpointRecord[]> {
  authorize(p, 'serverless.read');
  return ctx.store.listEndpoints(p.accountId);
}

export interface EndpointUpdate {
  readonly name: string | null;
  readonly params: EndpointParamsPatch;
  /** Suspend (serve with the workers it has, recruit none) or resume; null leaves it. */
  readonly suspended: boolean | null;
}

export async function updateEndpoint(ctx: ControlContext, p: Principal, id: number, u: EndpointUpdate): Promise<EndpointRecord> {
  const ep = await ownEndpoint(ctx, p, id, 'serverless.write');
  const params = mergeEndpointParams(ep.params, u.params);
  await ctx.store.updateEndpointConfig(id, {
    ...(u.name !== null ? { name: validName(u.name) } : {}),
    params,
    ...(u.suspended !== null ? { suspended: u.suspended } : {}),
    now: ctx.clock.now(),
  });
  // A new name, new limits or a suspension: every replica's gateway and serverless loop hear of it now.
  ctx.endpointSignal.intent(id);
  return (await ctx.store.getEndpoint(id)) as EndpointRecord;
}

/** Endpoints that route to this one and still take traffic: a stop without force must name them. */
export async function referencesTo(ctx: ControlContext, ep: EndpointRecord): Promise<EndpointRecord[]> {
  const mine = await ctx.store.listEndpoints(ep.accountId);
  return mine.filter((e) => e.aliasOf === ep.name && e.id !== ep.id && e.target === 'running');
}
