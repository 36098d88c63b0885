import { fileURLToPath } from 'node:url';
import { GantryError } from '../../domain/errors.js';
import type { TrainedModelRecord } from '../../domain/ml/records.js';
import { checkModelId, definitionMissing } from '../../domain/ml/models.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { createDeployment, listDeployments, type DeploymentView } from '../serverless/deployments.js';
import { mergeEndpointParams } from '../../domain/serverless/params.js';
import { compareAndSet, GENERATION_MOVED } from '../cas.js';
import { MAX_AWAIT_MS } from '../serverless/await-endpoint.js';
import { aliasTarget } from './aliases.js';
import { modelNotFound, ownModel } from './models.js';
import { modelGrant } from '../keys.js';
import { MODEL_ENV, MODEL_GRANT_ENV } from './worker-model.js';
import {
  ADAPTIVE_ENV,
  MAX_ALLOCATIONS,
  adaptiveChanges,
  adaptiveEnv,
  adaptiveOfEnv,
  checkAdaptive,
  checkNotBoth,
  mergeAdaptive,
  workerBounds,
  type AdaptiveAllocations,
  type AdaptivePatch,
} from './adaptive.js';

export type { AdaptiveAllocations, AdaptivePatch } from './adaptive.js';

/** The facts Elasticsearch keeps on an assignment that the engine has no field for: in the workergroup's env, read by every replica. */
const THREADS_ENV = 'GANTRY_THREADS';
const DELAY_ENV = 'GANTRY_INFERENCE_DELAY_MS';
const PRIORITY_ENV = 'GANTRY_ES_PRIORITY';
const CACHE_ENV = 'GANTRY_ES_CACHE_SIZE';

/** Elasticsearch's bound on threads: a power of two up to 32. */
export const MAX_THREADS = 32;

/** This install's CLI entry (dist/src/cli/main.js): an allocation runs `gantry inference-worker` from the same build as the server. */
const CLI_ENTRY = fileURLToPath(new URL('../../cli/main.js', import.meta.url));

export type Priority = 'normal' | 'low';
export type WaitFor = 'starting' | 'started' | 'fully_allocated';
export type AssignmentState = 'starting' | 'started' | 'stopping' | 'failed';
export type RoutingState = 'starting' | 'started' | 'stopping' | 'stopped' | 'failed';

export interface StartRequest {
  readonly modelId: string;
  readonly deploymentId: string;
  /** null: not given (adaptive allocations start at their min, else 1). */
  readonly allocations: number | null;
  readonly threads: number;
  readonly queueCapacity: number;
  readonly priority: Priority;
  /** Parsed as Elasticsearch's byte size and written back as it writes one (`10mb`, `0`); null: the model's size. */
  readonly cacheSize: string | null;
  readonly waitFor: WaitFor;
  readonly timeoutMs: number;
  readonly adaptive: AdaptiveAllocations | null;
  /** Test and benchmark knob: extra ms per request in each worker. */
  readonly delayMs: number;
}

export interface MlNode {
  readonly nodeId: string;
  readonly name: string;
  readonly address: string;
  readonly currentAllocations: number;
  readonly routingState: RoutingState;
  readonly reason: string;
}

/** One trained-model deployment as Elasticsearch describes it, read from the engine. */
export interface MlDeployment {
  readonly deploymentId: string;
  readonly modelId: string;
  readonly modelBytes: number;
  readonly targetAllocations: number;
  readonly threads: number;
  readonly queueCapacity: number;
  readonly priority: Priority;
  readonly cacheSize: string;
  readonly startTime: number;
  readonly adaptive: AdaptiveAllocations | null;
  readonly state: AssignmentState;
  readonly reason: string | null;
  /** Workers ready to serve. */
  readonly allocations: number;
  readonly nodes: readonly MlNode[];
  readonly view: DeploymentView;
}

const invalid = (msg: string, field: string): GantryError => new GantryError('INVALID_ARGUMENT', msg, { field });

function checkAllocations(n: number | null): void {
  if (n !== null && (!Number.isInteger(n) || n < 1 || n > MAX_ALLOCATIONS))
    throw invalid(`[number_of_allocations] must be between 1 and ${MAX_ALLOCATIONS}; got [${n}]`, 'number_of_allocations');
}

function checkStart(r: StartRequest): void {
  checkAllocations(r.allocations);
  checkNotBoth(r.allocations, r.adaptive);
  if (!Number.isInteger(r.threads) || r.threads < 1 || r.threads > MAX_THREADS || (r.threads & (r.threads - 1)) !== 0)
    throw invalid(`[threads_per_allocation] must be a power of 2 less than or equal to ${MAX_THREADS}; got [${r.threads}]`, 'threads_per_allocation');
  if (!Number.isInteger(r.queueCapacity) || r.queueCapacity < 1 || r.queueCapacity > 1_000_000)
    throw invalid(`[queue_capacity] must be a positive integer of at most 1000000; got [${r.queueCapacity}]`, 'queue_capacity');
  // Elasticsearch's words, one setting at a time (StartTrainedModelDeploymentAction.Request.validate).
  if (r.priority === 'low' && (r.allocations ?? 1) !== 1) throw invalid('[number_of_allocations] must be 1 when [priority] is low', 'number_of_allocations');
  if (r.priority === 'low' && r.threads !== 1) throw invalid('[threads_per_allocation] must be 1 when [priority] is low', 'threads_per_allocation');
  if (r.adaptive !== null) checkAdaptive(r.adaptive);
}

const isMl = (v: DeploymentView): boolean => (v.workergroup?.template.env[MODEL_ENV] ?? '') !== '' && v.endpoint.status !== 'deleted';

/**
 * Ready workers count as started allocations; a stopping or failed endpoint is the assignment's state.
 * Zero allocations wanted (adaptive allocations scaled to zero, or fixed at zero after) is started, as
 * in Elasticsearch (TrainedModelAssignment.calculateAssignmentState, ES PR #115824): such a deployment
 * can be updated.
 */
function assignmentState(v: DeploymentView, ready: number, target: number): { state: AssignmentState; reason: string | null } {
  const s = v.endpoint.status;
  if (s === 'stopping' || s === 'stopped') return { state: 'stopping', reason: null };
  if (s === 'failed') return { state: 'failed', reason: v.endpoint.statusMsg ?? 'the deployment failed' };
  return { state: ready > 0 || target === 0 ? 'started' : 'starting', reason: null };
}

function routingState(phase: string): RoutingState {
  if (phase === 'ready') return 'started';
  if (phase === 'stopping' || phase === 'destroying') return 'stopping';
  if (phase === 'inactive') return 'stopped';
  if (phase === 'error') return 'failed';
  return 'starting';
}

async function describe(ctx: ControlContext, v: DeploymentView, model: TrainedModelRecord | undefined): Promise<MlDeployment> {
  const env = v.workergroup?.template.env ?? {};
  const byMachine = new Map<number, { ready: number; all: number; states: RoutingState[]; errors: string[] }>();
  for (const w of v.workers) {
    const m = byMachine.get(w.instance.machineId) ?? { ready: 0, all: 0, states: [], errors: [] };
    m.all++;
    if (w.phase === 'ready') m.ready++;
    m.states.push(routingState(w.phase));
    if (w.errorMsg !== null) m.errors.push(w.errorMsg);
    byMachine.set(w.instance.machineId, m);
  }
  const nodes: MlNode[] = [];
  for (const [machineId, m] of byMachine) {
    const machine = await ctx.store.getMachine(machineId, ctx.clock.now());
    // A node is started when one of its allocations is; otherwise its most telling state.
    const order: RoutingState[] = ['started', 'starting', 'stopping', 'failed', 'stopped'];
    const routing = order.find((s) => m.states.includes(s)) ?? 'starting';
    nodes.push({
      nodeId: `gantry-host-${machineId}`,
      name: machine?.hostname ?? `host-${machineId}`,
      address: machine?.hostname ?? '127.0.0.1',
      currentAllocations: m.ready,
      routingState: routing,
      reason: m.errors[0] ?? '',
    });
  }
  const ready = v.workers.filter((w) => w.phase === 'ready').length;
  const modelBytes = model?.totalDefinitionLength ?? 0;
  const adaptive = adaptiveOfEnv(env[ADAPTIVE_ENV], v.endpoint.params);
  const targetAllocations = adaptive?.enabled === true ? Math.max(ready, v.endpoint.params.minWorkers) : v.endpoint.params.maxWorkers;
  const { state, reason } = assignmentState(v, ready, targetAllocations);
  return {
    deploymentId: v.deployment.name,
    modelId: env[MODEL_ENV] ?? '',
    modelBytes,
    targetAllocations,
    threads: Number(env[THREADS_ENV] ?? '1'),
    queueCapacity: v.endpoint.limits.queueCapacity,
    priority: env[PRIORITY_ENV] === 'low' ? 'low' : 'normal',
    cacheSize: env[CACHE_ENV] ?? `${modelBytes}b`,
    startTime: v.deployment.createdAt,
    adaptive,
    state,
    reason,
    allocations: ready,
    nodes,
    view: v,
  };
}

/** The account's live trained-model deployments (those whose workers serve a model). */
export async function mlDeployments(ctx: ControlContext, p: Principal): Promise<MlDeployment[]> {
  authorize(p, 'ml.read');
  const views = (await listDeployments(ctx, p, { resourceGroup: 'default' })).filter(isMl);
  const models = new Map((await ctx.store.listTrainedModels(p.accountId)).map((m) => [m.modelId, m]));
  const out: MlDeployment[] = [];
  for (const v of views) out.push(await describe(ctx, v, models.get(v.workergroup?.template.env[MODEL_ENV] ?? '')));
  return out;
}

/** One deployment by its exact id, or undefined. */
export async function mlDeployment(ctx: ControlContext, p: Principal, deploymentId: string): Promise<MlDeployment | undefined> {
  return (await mlDeployments(ctx, p)).find((d) => d.deploymentId === deploymentId);
}

function startTimeout(d: MlDeployment, waitFor: WaitFor, timeoutMs: number): GantryError {
  return new GantryError(
    'START_TIMEOUT',
    `Timed out after [${timeoutMs / 1000}s] waiting for model deployment [${d.deploymentId}] to be [${waitFor}]; it keeps starting (${d.allocations} of ${d.targetAllocations} allocations started)`,
    { deploymentId: d.deploymentId, waitFor },
  );
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Wait until the deployment reaches `waitFor` (or fails); START_TIMEOUT when the time runs out first. */
async function awaitAllocation(ctx: ControlContext, p: Principal, deploymentId: string, waitFor: WaitFor, timeoutMs: number): Promise<MlDeployment> {
  const until = ctx.clock.now() + timeoutMs;
  for (;;) {
    const d = await mlDeployment(ctx, p, deploymentId);
    if (d === undefined) throw new GantryError('DEPLOYMENT_NOT_FOUND', `No known model deployment with id [${deploymentId}]`, { deploymentId });
    if (d.state === 'failed') return d;
    // Stopped through another API while this start waited (an Elasticsearch stop deletes it: not found above): it
    // will not start for this call, so the wait ends now rather than at its timeout with "it keeps starting".
    if (d.state === 'stopping')
      throw new GantryError('ILLEGAL_TRANSITION', `Model deployment [${deploymentId}] was stopped while this start waited for it to be [${waitFor}]`, {
        deploymentId,
        waitFor,
      });
    const done = waitFor === 'starting' || (waitFor === 'started' ? d.allocations > 0 : d.allocations >= d.targetAllocations);
    if (done) return d;
    const left = until - ctx.clock.now();
    if (left <= 0) throw startTimeout(d, waitFor, timeoutMs);
    await sleep(Math.min(left, ctx.settings.endpointWaitPollMs));
  }
}

/** Elasticsearch's start: a deployment whose workers run `gantry inference-worker` on the model, one request at a time each. */
export async function startMlDeployment(ctx: ControlContext, p: Principal, r: StartRequest): Promise<MlDeployment> {
  authorize(p, 'ml.write');
  authorize(p, 'serverless.write');
  checkStart(r);
  if (r.timeoutMs < 0 || r.timeoutMs > MAX_AWAIT_MS) throw invalid(`[timeout] must be at most ${MAX_AWAIT_MS / 1000}s`, 'timeout');
  checkModelId(r.deploymentId, 'deployment_id');
  const model = await ownModel(ctx, p, r.modelId, 'ml.read');
  if (!model.fullyDefined) throw definitionMissing(r.modelId);
  if (r.deploymentId !== r.modelId && (await ctx.store.getTrainedModel(p.accountId, r.deploymentId)) !== undefined) {
    throw invalid(
      `Deployment id [${r.deploymentId}] is the same as an another model which is not the model being deployed. Deployment id can be the same as the model being deployed.`,
      'deployment_id',
    );
  }
  if ((await mlDeployment(ctx, p, r.deploymentId)) !== undefined) throw duplicate(r.deploymentId);
  // StartTrainedModelDeploymentAction.Request.computeNumberOfAllocations: the given number, else the adaptive min when above 0, else 1.
  const allocations = r.allocations ?? Math.max(r.adaptive?.min ?? 0, 1);
  const bounds = workerBounds(allocations, r.adaptive);
  const env: Record<string, string> = {
    [MODEL_ENV]: r.modelId,
    [MODEL_GRANT_ENV]: modelGrant(ctx.secret, p.accountId, r.deploymentId, r.modelId),
    [THREADS_ENV]: String(r.threads),
    [PRIORITY_ENV]: r.priority,
    [ADAPTIVE_ENV]: adaptiveEnv(r.adaptive),
  };
  if (r.cacheSize !== null) env[CACHE_ENV] = r.cacheSize;
  if (r.delayMs > 0) env[DELAY_ENV] = String(r.delayMs);
  try {
    await createDeployment(ctx, p, {
      name: r.deploymentId,
      tag: 'elastic',
      params: { ...bounds, coldWorkers: 0, minColdLoad: 0, targetUtil: 1 },
      // Gantry's own GANTRY_* settings, which a user's worker env may not hold.
      template: {
        image: 'local/gantry-inference',
        env,
        envFrom: 'gantry',
        onstart: `exec ${process.execPath} ${CLI_ENTRY} inference-worker`,
        args: null,
        diskGb: null,
      },
      placement: null,
      launchArgs: null,
      gpuRamGb: null,
      testWorkers: 0,
      limits: { maxConcurrentPerWorker: 1, queueCapacity: r.queueCapacity },
      // Checked again where the deployment is written, under the model row's lock: a model deleted since the
      // check above (a forced delete racing this start) refuses it there, and its endpoint is taken back.
      servesModel: r.modelId,
    });
  } catch (err) {
    if (err instanceof GantryError && err.code === 'NAME_TAKEN') throw duplicate(r.deploymentId);
    throw err;
  }
  ctx.log.info({ accountId: p.accountId, modelId: r.modelId, deploymentId: r.deploymentId }, 'trained model deployment started');
  return awaitAllocation(ctx, p, r.deploymentId, r.waitFor, r.timeoutMs);
}

function duplicate(id: string): GantryError {
  return new GantryError('NAME_TAKEN', `Could not start model deployment because an existing deployment with the same id [${id}] exist`, { deploymentId: id });
}

export function notFound(id: string): GantryError {
  return new GantryError('DEPLOYMENT_NOT_FOUND', `No known model deployment with id [${id}]`, { deploymentId: id });
}

/**
 * Elasticsearch's _update (TrainedModelAssignmentClusterService.updateDeployment): the adaptive
 * settings given are merged into the stored ones (`reset`: the body's `adaptive_allocations: null`
 * removes them). While the merged settings are enabled, a number of allocations is refused (400) and
 * the autoscaler keeps the workers within min and max; otherwise the deployment runs a fixed number:
 * the one given, else the number it has (hasUpdates/updateAndKeepNumberOfAllocations), so disabling
 * adaptive allocations keeps the count they had reached, 0 when they had scaled to zero. An update
 * that changes nothing (hasUpdates: adaptive settings compared as given, `adaptiveChanges`) answers
 * the assignment as it is, in any state; one that does is refused (409) unless the deployment is started.
 *
 * The settings (the workergroup's env) and the worker bounds (the endpoint's params) are written in
 * one transaction, compare-and-set on what was read: of two replicas updating at once, each decides
 * on the other's result or is retried, never leaving one's settings beside the other's bounds; a stop
 * written after the state was read moves the endpoint's generation, and the retry refuses the update.
 */
export async function updateMlDeployment(
  ctx: ControlContext,
  p: Principal,
  deploymentId: string,
  u: { readonly allocations: number | null; readonly adaptive: AdaptivePatch | 'reset' | null },
): Promise<MlDeployment> {
  authorize(p, 'ml.write');
  authorize(p, 'serverless.write');
  checkAllocations(u.allocations);
  const attempt = async (): Promise<MlDeployment | typeof GENERATION_MOVED> => {
    const d = await mlDeployment(ctx, p, deploymentId);
    if (d === undefined) throw notFound(deploymentId);
    const adaptive = u.adaptive === null ? d.adaptive : u.adaptive === 'reset' ? null : mergeAdaptive(d.adaptive, u.adaptive);
    checkNotBoth(u.allocations, adaptive);
    if (adaptive !== null) checkAdaptive(adaptive);
    if (!hasUpdates(d, u)) return d;
    if (d.priority === 'low' && (u.allocations ?? 1) !== 1) throw invalid('[number_of_allocations] must be 1 when [priority] is low', 'number_of_allocations');
    if (d.state !== 'started') {
      // Elasticsearch's words (TrainedModelAssignmentClusterService); the state it is in goes in the details.
      throw new GantryError('ILLEGAL_TRANSITION', 'cannot update deployment that is not in [started] state', { deploymentId, state: d.state });
    }
    const ep = d.view.endpoint;
    const params = mergeEndpointParams(ep.params, workerBounds(u.allocations ?? d.targetAllocations, adaptive));
    // The settings live in the workergroup's env (what `describe` reads); running workers keep theirs, which they do not read.
    const wg = d.view.workergroup;
    const template = wg === null ? null : { ...wg.template, env: { ...wg.template.env, [ADAPTIVE_ENV]: adaptiveEnv(adaptive) } };
    const written = await ctx.store.reconfigureEndpoint({
      endpointId: ep.id,
      expected: { params: ep.params, generation: ep.generation },
      params,
      workergroup: wg === null || template === null ? null : { id: wg.id, expected: wg.template, template },
      now: ctx.clock.now(),
    });
    if (!written) return GENERATION_MOVED;
    // New bounds: every replica's gateway and serverless loop hear of them now.
    ctx.endpointSignal.intent(ep.id);
    return (await mlDeployment(ctx, p, deploymentId)) ?? d;
  };
  return compareAndSet(
    attempt,
    () => new GantryError('ILLEGAL_TRANSITION', `Deployment [${deploymentId}] kept changing while it was updated; try again`, { deploymentId }),
  );
}

/** Elasticsearch's hasUpdates: a number other than the one it has, or adaptive settings other than those stored (adaptiveChanges). */
function hasUpdates(d: MlDeployment, u: { readonly allocations: number | null; readonly adaptive: AdaptivePatch | 'reset' | null }): boolean {
  if (u.allocations !== null && u.allocations !== d.targetAllocations) return true;
  return u.adaptive !== null && adaptiveChanges(d.adaptive, u.adaptive);
}

/**
 * The deployment an inference request names: a deployment id first (Elasticsearch prefers it), else
 * a model id served by a deployment, else a model alias (its model's deployment). 409 when nothing
 * serves it or it is stopping.
 */
export async function inferenceTarget(ctx: ControlContext, p: Principal, id: string): Promise<MlDeployment> {
  authorize(p, 'ml.read');
  const all = await mlDeployments(ctx, p);
  let d = all.find((x) => x.deploymentId === id) ?? all.find((x) => x.modelId === id);
  let modelId = id;
  if (d === undefined && (await ctx.store.getTrainedModel(p.accountId, id)) === undefined) {
    const target = await aliasTarget(ctx, p.accountId, id);
    if (target === undefined) throw modelNotFound(id);
    modelId = target;
    d = all.find((x) => x.modelId === target);
  }
  if (d === undefined) {
    throw new GantryError('ENDPOINT_STOPPED', `Model [${modelId}] must be deployed to use. Please deploy with the start trained model deployment API.`, {
      modelId,
    });
  }
  if (d.state === 'stopping' || d.state === 'failed') {
    throw new GantryError('ENDPOINT_STOPPED', `Trained model [${d.deploymentId}] is [${d.state}]`, { deploymentId: d.deploymentId });
  }
  return d;
}
