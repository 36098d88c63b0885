import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import { awaitEndpointStatus } from './await-endpoint.js';
import { changeOwnedEndpoint, type StopRequest } from './change-endpoint.js';
import { deleteDeployment, ownDeployment, type DeploymentRef } from './deployments.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';

/** What a synchronous stop did with the requests the deployment held. */
export interface StopOutcome {
  /** Answered by a worker after the stop was called (in flight, and queued ones a drain handed on). */
  readonly drained: number;
  /** Failed at the drain deadline (queued or in flight), or timed out in a queue while it stopped. */
  readonly failed: number;
  /** Refused from a queue by the stop (REQUEST_REJECTED_BY_STOP, or ENDPOINT_STOPPED for Vast's stop). */
  readonly rejected: number;
  /** The endpoint as the stop left it: stopped, or deleted when `delete` was asked. */
  readonly endpoint: EndpointRecord;
}

export interface StopAndWaitOptions {
  /** Bound on the whole call (stop, and delete when asked); at most MAX_AWAIT_MS. */
  readonly timeoutMs: number;
  /** Delete the deployment once stopped and wait until it is gone, so its name is free (Elasticsearch: nothing survives a stop). */
  readonly delete?: boolean;
}

/**
 * Stop a deployment and return only when it is stopped: its workers confirmed at rest by their
 * runtime, so none is billed. A stop that ends failed is STOP_FAILED; one still under way at the
 * bound is STOP_TIMEOUT (it goes on). A deployment not yet scheduled is stopped too. The counts are
 * read after this replica wrote its own; other replicas wrote theirs before their held requests
 * reached zero, which the stop waited for.
 */
export async function stopDeploymentAndWait(
  ctx: ControlContext,
  p: Principal,
  ref: DeploymentRef | number,
  stop: StopRequest,
  o: StopAndWaitOptions,
): Promise<StopOutcome> {
  const d = await ownDeployment(ctx, p, typeof ref === 'number' ? { id: ref } : ref, 'serverless.write');
  const until = ctx.clock.now() + o.timeoutMs;
  let generation: number;
  /** Stopped already when asked: the counts on the row are an earlier stop's, not this call's. */
  let stoppedBefore = false;
  try {
    const r = await changeOwnedEndpoint(ctx, p, d.endpointId, 'stop', { stop, stopUnscheduled: true });
    generation = r.generation;
    stoppedBefore = !r.changed && r.endpoint.status === 'stopped';
  } catch (err) {
    // A stop-and-delete that another call (the same stop, sent twice at once) is already deleting: what this one
    // asked for is under way, so it waits for the deletion as its own instead of refusing "being deleted".
    if (o.delete !== true || !(err instanceof GantryError) || err.code !== 'ILLEGAL_TRANSITION' || !(await beingDeleted(ctx, d.endpointId))) throw err;
    return awaitDeleted(ctx, p, d.uid, d.endpointId, { drained: 0, failed: 0, rejected: 0 }, until, o.timeoutMs);
  }
  // Another intent written since (a start through another API once it had stopped, a delete) ends the wait too: the
  // stop is over, and the endpoint may never show stopped again for it.
  const got = await awaitEndpointStatus(ctx, p, d.endpointId, ['stopped', 'failed'], o.timeoutMs, (ep) => ep.generation !== generation);
  const superseded = got.endpoint.generation !== generation;
  if (got.timedOut) {
    throw new GantryError(
      'STOP_TIMEOUT',
      `Deployment ${d.uid} did not stop within ${o.timeoutMs / 1000}s (${got.endpoint.statusMsg ?? got.endpoint.status}).`,
      {
        deploymentId: d.uid,
        status: got.endpoint.status,
      },
    );
  }
  if (!superseded && got.endpoint.status === 'failed') {
    throw new GantryError('STOP_FAILED', `Deployment ${d.uid} did not stop: ${got.endpoint.statusMsg ?? 'a worker did not stop'}.`, { deploymentId: d.uid });
  }
  await ctx.traffic.flushStopCounts(d.endpointId);
  const ep = (await ctx.store.getEndpoint(d.endpointId)) ?? got.endpoint;
  // The counts are this stop's while no other intent came, or when the one that came is the delete of the endpoint
  // this stop left stopped (another call's, waiting on the same stop): the store keeps them for that delete only, and
  // zeroes them for any other (so a delete that cut the stop short reads zero here, not a clean drain).
  const own = !stoppedBefore && (!superseded || (ep.generation === generation + 1 && ep.target === 'deleted'));
  const counts = own
    ? { drained: ep.stopAnswered, failed: ep.stopFailed - ep.stopRejected, rejected: ep.stopRejected }
    : { drained: 0, failed: 0, rejected: 0 };
  if (o.delete !== true) return { ...counts, endpoint: ep };
  // Stop-then-delete: a start another call (any dialect) made since it stopped is ended with it, not refused
  // as "stop it first" to a caller who asked for exactly that.
  await deleteDeployment(ctx, p, { id: d.id }, { force: true, stopFirst: true });
  return awaitDeleted(ctx, p, d.uid, d.endpointId, counts, until, o.timeoutMs);
}

async function beingDeleted(ctx: ControlContext, endpointId: number): Promise<boolean> {
  const ep = await ctx.store.getEndpoint(endpointId);
  return ep === undefined || ep.target === 'deleted';
}

/** Wait until the deleted deployment's endpoint is gone (its name free again). */
async function awaitDeleted(
  ctx: ControlContext,
  p: Principal,
  uid: string,
  endpointId: number,
  counts: Omit<StopOutcome, 'endpoint'>,
  until: number,
  timeoutMs: number,
): Promise<StopOutcome> {
  const gone = await awaitEndpointStatus(ctx, p, endpointId, ['deleted'], Math.max(0, until - ctx.clock.now()));
  if (gone.timedOut) {
    throw new GantryError('STOP_TIMEOUT', `Deployment ${uid} stopped but was not deleted within ${timeoutMs / 1000}s; the delete goes on.`, {
      deploymentId: uid,
      status: gone.endpoint.status,
    });
  }
  return { ...counts, endpoint: gone.endpoint };
}
