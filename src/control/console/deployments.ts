import type { ScaleDecisionRecord } from '../../domain/serverless/scale-decision.js';
import type { ControlContext } from '../context.js';
import { systemPrincipal, type Principal } from '../principal.js';
import type { EndpointChangeResult } from '../serverless/change-endpoint.js';
import { deleteDeployment, listDeployments, showDeployment, startDeployment, stopDeployment, type DeploymentView } from '../serverless/deployments.js';

/** Which API made a deployment, told from the engine's records, not from any dialect's shape. */
export type DeploymentApi = 'vast' | 'vast-code' | 'aicore' | 'elasticsearch';

/** Decisions shown with a deployment. */
const DECISIONS_SHOWN = 20;
/** The inference worker's model, set by an Elasticsearch trained-model deployment (src/control/ml/worker-model.ts). */
const MODEL_ENV = 'GANTRY_MODEL_ID';

/** A deployment as the console shows it: the engine's view with its traffic, its stop's counts and the autoscaler's last decisions. */
export interface ConsoleDeployment {
  readonly view: DeploymentView;
  readonly api: DeploymentApi;
  readonly workersByPhase: Readonly<Record<string, number>>;
  /** Queued at this replica's gateway, and held by other replicas' gateways (queued or in flight). */
  readonly queued: number;
  readonly heldElsewhere: number;
  /** In flight at workers: this gateway's count, or what the workers report when more (other replicas' requests). */
  readonly inFlight: number;
  /** Requests finished per second over the last minute (this replica's gateway). */
  readonly requestRate: number;
  /** What the last stop did with held requests: answered by workers, failed (timed out or refused from a queue). */
  readonly stop: { readonly answered: number; readonly failed: number; readonly rejected: number; readonly drainTimedOut: boolean };
  readonly decisions: readonly ScaleDecisionRecord[];
}

export function apiOf(v: DeploymentView): DeploymentApi {
  if (v.deployment.source !== null) return 'aicore';
  if (v.code !== undefined) return 'vast-code';
  if ((v.workergroup?.template.env[MODEL_ENV] ?? '') !== '') return 'elasticsearch';
  return 'vast';
}

async function describe(ctx: ControlContext, v: DeploymentView): Promise<ConsoleDeployment> {
  const ep = v.endpoint;
  const workersByPhase: Record<string, number> = {};
  for (const w of v.workers) workersByPhase[w.phase] = (workersByPhase[w.phase] ?? 0) + 1;
  const reported = v.workers.reduce((s, w) => s + (w.report?.numRequestsWorking ?? 0), 0);
  const counters = ctx.traffic.stats(ep.id).deployment;
  return {
    view: v,
    api: apiOf(v),
    workersByPhase,
    queued: v.pending.queued,
    heldElsewhere: await ctx.traffic.pendingElsewhere(ep.id),
    inFlight: Math.max(v.pending.inFlight, reported),
    requestRate: counters.throughputLastMinute / 60,
    stop: { answered: ep.stopAnswered, failed: ep.stopFailed, rejected: ep.stopRejected, drainTimedOut: ep.stopDrainTimedOut },
    decisions: await ctx.store.listScaleDecisions(ep.id, DECISIONS_SHOWN),
  };
}

/** Every deployment of the caller's account, whichever API made it. */
export async function consoleDeployments(ctx: ControlContext, p: Principal): Promise<ConsoleDeployment[]> {
  const out: ConsoleDeployment[] = [];
  for (const v of await listDeployments(ctx, p)) out.push(await describe(ctx, v));
  return out;
}

export async function consoleDeployment(ctx: ControlContext, p: Principal, id: number): Promise<ConsoleDeployment> {
  return describe(ctx, await showDeployment(ctx, p, id));
}

export interface ConsoleStop {
  /** Wait for held requests (queued and in flight) before workers stop; false fails queued ones at once. */
  readonly drain: boolean;
  /** Bound on the drain, seconds; null: the stopDrainTimeoutMs setting. */
  readonly timeoutS: number | null;
  /** Stop even when other endpoints route to it. */
  readonly force: boolean;
}

/** The engine's stop (StopRequest), then the deployment as it is now: the stop goes on in the serverless loop. */
export async function stopConsoleDeployment(
  ctx: ControlContext,
  p: Principal,
  id: number,
  s: ConsoleStop,
): Promise<{ changed: boolean; deployment: ConsoleDeployment }> {
  const r = await stopDeployment(
    ctx,
    p,
    id,
    { finishPendingWork: s.drain, force: s.force, timeoutMs: s.timeoutS === null ? null : s.timeoutS * 1000 },
    { stopUnscheduled: true },
  );
  return after(ctx, p, id, r);
}

export async function startConsoleDeployment(ctx: ControlContext, p: Principal, id: number): Promise<{ changed: boolean; deployment: ConsoleDeployment }> {
  return after(ctx, p, id, await startDeployment(ctx, p, id));
}

/** Delete one that runs nothing (stopped, failed, unknown); a live one is refused until stopped, as the engine's rules say. */
export async function deleteConsoleDeployment(ctx: ControlContext, p: Principal, id: number): Promise<{ changed: boolean }> {
  const r = await deleteDeployment(ctx, p, id, { force: false, stopFirst: false });
  return { changed: r.changed };
}

async function after(ctx: ControlContext, p: Principal, id: number, r: EndpointChangeResult): Promise<{ changed: boolean; deployment: ConsoleDeployment }> {
  return { changed: r.changed, deployment: await consoleDeployment(ctx, p, id) };
}

/**
 * The deployment of an endpoint as its owner sees it, for the push channel (the store's `endpoint`
 * change names the endpoint): undefined when no deployment owns it; `deployment` null once it is deleted;
 * `deploymentId` the deployment's own id (what a key's limits name), also once it is deleted.
 */
export async function deploymentOfEndpoint(
  ctx: ControlContext,
  endpointId: number,
): Promise<{ accountId: number; deploymentId: number; deployment: ConsoleDeployment | null } | undefined> {
  const d = await ctx.store.findDeploymentByEndpoint(endpointId);
  const ep = await ctx.store.getEndpoint(endpointId);
  if (d === undefined) {
    // The pass that finishes a delete marks the deployment deleted before it records the endpoint's
    // `deleted` status, so that last change finds no live deployment: the deleted one's id still tells
    // its owner, and a key limited to it, that it is gone. An endpoint no deployment ever owned is not one.
    if (ep === undefined || (ep.status !== 'deleted' && ep.target !== 'deleted')) return undefined;
    const gone = await ctx.store.findDeploymentByEndpoint(endpointId, { withDeleted: true });
    return gone === undefined ? undefined : { accountId: gone.accountId, deploymentId: gone.id, deployment: null };
  }
  if (ep === undefined || ep.status === 'deleted') return { accountId: d.accountId, deploymentId: d.id, deployment: null };
  const owner = systemPrincipal(d.accountId, 'console');
  return { accountId: d.accountId, deploymentId: d.id, deployment: await consoleDeployment(ctx, owner, d.id) };
}
