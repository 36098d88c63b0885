import { GantryError } from '../../domain/errors.js';
import { aliasNameRoutedTo } from '../../domain/serverless/aliases.js';
import { decideEndpoint } from '../../domain/serverless/lifecycle.js';
import { endpointLimits, type EndpointLimits } from '../../domain/serverless/limits.js';
import { DEFAULT_ENDPOINT_PARAMS, mergeEndpointParams, type EndpointParamsPatch } from '../../domain/serverless/params.js';
import type { ControlContext } from '../context.js';
import { newEndpointKey } from '../keys.js';
import { authorize, type Principal } from '../principal.js';
import { compareAndSet, GENERATION_MOVED } from '../cas.js';
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
  authorize(p, action, { kind: 'endpoint', id });
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
  if (r.aliasOf === name) throw new GantryError('INVALID_ARGUMENT', `Endpoint '${name}' cannot be a route alias of itself.`, { field: 'aliasOf' });
  // The target (an endpoint of the account that is no alias, and no alias routing to this name) is checked by the
  // store in the alias's own write, with the target held: a rename of the target at once cannot slip between them.
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
  /**
   * What the endpoint routes to, as the caller sent it (Vast's `alias_of`); undefined: not sent. It is set at
   * create only: the value the endpoint has is accepted (a client putting back the row it read), another refused.
   */
  readonly aliasOf?: string | null;
  /**
   * The stop or start the same request makes next (Vast's endpoint_state), checked against the lifecycle before
   * anything is written: a request refused for it (a start while stopping) changes nothing. Absent: none.
   */
  readonly next?: 'stop' | 'start';
}

export async function updateEndpoint(ctx: ControlContext, p: Principal, id: number, u: EndpointUpdate): Promise<EndpointRecord> {
  const ep = await ownEndpoint(ctx, p, id, 'serverless.write');
  const params = mergeEndpointParams(ep.params, u.params);
  // What the stop or start would refuse is refused before anything of the update is written.
  if (u.next !== undefined && decideEndpoint(ep, u.next, { stopUnscheduled: true }) !== null && u.next === 'stop') await refuseReferenced(ctx, ep);
  if (u.aliasOf !== undefined && u.aliasOf !== ep.aliasOf) {
    throw new GantryError(
      'INVALID_ARGUMENT',
      `'aliasOf' is set when an endpoint is created and not changed after (endpoint '${ep.name}' ${ep.aliasOf === null ? 'routes to its own workers' : `routes to '${ep.aliasOf}'`}); delete it and create it again to route elsewhere.`,
      { field: 'aliasOf' },
    );
  }
  // The name the endpoint has already (Vast's CLI sends it back with every update) is no rename.
  if (u.name !== null && u.name !== ep.name) await rename(ctx, p, ep, validName(u.name));
  await ctx.store.updateEndpointConfig(id, {
    params,
    ...(u.suspended !== null ? { suspended: u.suspended } : {}),
    now: ctx.clock.now(),
  });
  // A new name, new limits or a suspension: every replica's gateway and serverless loop hear of it now.
  ctx.endpointSignal.intent(id);
  return (await ctx.store.getEndpoint(id)) as EndpointRecord;
}

/**
 * An alias names its target by name, and a deployment names its endpoint: a rename must leave each naming
 * what it did. So the target of live aliases keeps its name (renamed, the aliases would route to whatever
 * took the name next, and it would lose their stop protection), a deployment's endpoint keeps the
 * deployment's, and an alias takes no name other aliases route to (itself, or a chain). The store checks
 * again as it writes; a write refused meanwhile is decided again on what it finds then.
 */
async function rename(ctx: ControlContext, p: Principal, read: EndpointRecord, to: string): Promise<void> {
  let ep = read;
  const attempt = async (): Promise<void | typeof GENERATION_MOVED> => {
    if (ep.name === to) return;
    const d = await ctx.store.findDeploymentByEndpoint(ep.id);
    if (d !== undefined)
      throw new GantryError(
        'INVALID_ARGUMENT',
        `Endpoint ${ep.id} is deployment ${d.id}'s, which it is named after ('${ep.name}'); a deployment's endpoint keeps its name (create a deployment of the new name instead).`,
        { field: 'endpointName', deploymentId: d.id },
      );
    const mine = await ctx.store.listEndpoints(ep.accountId);
    const refs = mine.filter((e) => e.aliasOf === ep.name && e.id !== ep.id).map((e) => e.name);
    if (refs.length > 0)
      throw new GantryError(
        'ENDPOINT_REFERENCED',
        `Endpoint '${ep.name}' is the route target of ${refs.join(', ')}, which name it: it keeps its name while they route to it (delete them first).`,
        { references: refs },
      );
    if (ep.aliasOf !== null) {
      if (to === ep.aliasOf)
        throw new GantryError('INVALID_ARGUMENT', `Endpoint '${ep.name}' routes to '${to}': named '${to}' it would route to itself.`, {
          field: 'endpointName',
        });
      notAliasTarget(mine, to, ep.id, 'endpointName');
    }
    const now = ctx.clock.now();
    if (await ctx.store.renameEndpoint({ id: ep.id, accountId: ep.accountId, from: ep.name, to, isAlias: ep.aliasOf !== null, now })) return;
    ep = await loadOwnEndpoint(ctx, p, ep.id);
    return GENERATION_MOVED;
  };
  await compareAndSet(
    attempt,
    () => new GantryError('ILLEGAL_TRANSITION', `Endpoint ${read.id} is being changed by other requests right now; try again.`, { endpointId: read.id }),
  );
}

/** An alias may not take a name that live aliases route to: they would route to an alias, one level being all routing follows. */
function notAliasTarget(mine: readonly EndpointRecord[], name: string, selfId: number | null, field: string): void {
  const refs = mine.filter((e) => e.aliasOf === name && e.id !== selfId).map((e) => e.name);
  if (refs.length > 0) throw aliasNameRoutedTo(name, refs, field);
}

/** Endpoints that route to this one and still take traffic: a stop without force must name them. */
async function referencesTo(ctx: ControlContext, ep: EndpointRecord): Promise<EndpointRecord[]> {
  const mine = await ctx.store.listEndpoints(ep.accountId);
  return mine.filter((e) => e.aliasOf === ep.name && e.id !== ep.id && e.target === 'running');
}

/** A stop without force of an endpoint that running aliases route to: ENDPOINT_REFERENCED, naming them. */
export async function refuseReferenced(ctx: ControlContext, ep: EndpointRecord): Promise<void> {
  const refs = await referencesTo(ctx, ep);
  if (refs.length === 0) return;
  const names = refs.map((r) => r.name).join(', ');
  throw new GantryError('ENDPOINT_REFERENCED', `Endpoint '${ep.name}' is the route target of ${names}; stop those first or pass force=true.`, {
    references: refs.map((r) => r.name),
  });
}
