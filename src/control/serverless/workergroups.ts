import { GantryError } from '../../domain/errors.js';
import { checkCommand, checkImage, DEFAULT_DISK_GB, DEFAULT_IMAGE, MAX_DISK_GB, MAX_ONSTART_CHARS } from '../../domain/instance/create.js';
import { parseEnv, refuseReservedNames, shellSplit, type ParsedEnv, type PortSpec } from '../../domain/instance/env.js';
import { deploymentOwnsGroup } from '../../domain/serverless/rollout.js';
import { checkPlacement, DEFAULT_PLACEMENT, type WorkerPlacement } from '../../domain/offer/search.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';
import { loadOwnEndpoint, ownEndpoint, type ServerlessAction } from './endpoints.js';
import { holdsRequests, retireWorkers } from './retire-workers.js';
import { workersOf } from './workers.js';
import type { WorkergroupRecord, WorkerReadiness, WorkerTemplate } from '../../domain/serverless/records.js';

/** The port a worker serves on when its template publishes none (WORKER_PORT). */
export const DEFAULT_WORKER_PORT = 8000;
export const DEFAULT_TEST_WORKERS = 3;

export interface TemplateInput {
  readonly image: string | null;
  readonly env: unknown;
  readonly onstart: string | null;
  readonly entrypoint?: string | null;
  readonly args: readonly string[] | null;
  readonly diskGb: number | null;
  readonly readiness?: WorkerReadiness;
  /** Ports to keep when `env` publishes none (an update that leaves env alone keeps the stored ones). */
  readonly ports?: readonly PortSpec[];
  /**
   * Who wrote `env`. `user` (absent): a caller of any API, so names Gantry or the runtime set are refused as in
   * an instance's env, less what the official clients send to workers (env-rules.ts). `gantry`: built by Gantry
   * (an Elasticsearch allocation's GANTRY_* settings). `stored`: the workergroup's own, kept by an update (checked
   * when it was written; one stored before the rule keeps its workers starting as they did).
   */
  readonly envFrom?: 'user' | 'gantry' | 'stored';
}

export interface WorkergroupInput {
  readonly template: TemplateInput;
  /** Where workers may run; null: DEFAULT_PLACEMENT (new) or unchanged (update). */
  readonly placement: WorkerPlacement | null;
  readonly launchArgs: string | null;
  readonly gpuRamGb: number | null;
  readonly testWorkers: number | null;
}

function invalid(msg: string, field: string): GantryError {
  return new GantryError('INVALID_ARGUMENT', msg, { field });
}

/** launch_args: the create flags a worker gets on top of its template (`--disk 20 --env '-e K=V' --args a b`). */
function applyLaunchArgs(t: TemplateInput, launchArgs: string | null): TemplateInput {
  if (launchArgs === null || launchArgs.trim() === '') return t;
  const words = shellSplit(launchArgs);
  let out = { ...t };
  for (let i = 0; i < words.length; i++) {
    const flag = words[i] as string;
    if (flag === '--args') {
      out = { ...out, args: words.slice(i + 1) };
      break;
    }
    const v = words[++i];
    if (v === undefined) throw invalid(`launch_args: '${flag}' needs a value.`, 'launch_args');
    if (flag === '--disk') out = { ...out, diskGb: Number(v) };
    else if (flag === '--env') out = { ...out, env: v, envFrom: 'user' };
    else if (flag === '--image') out = { ...out, image: v };
    else if (flag === '--onstart-cmd' || flag === '--onstart') out = { ...out, onstart: v };
    else throw invalid(`launch_args: unknown flag '${flag}'; use --image, --env, --disk, --onstart-cmd or --args.`, 'launch_args');
  }
  return out;
}

export function buildTemplate(input: WorkergroupInput): WorkerTemplate {
  const t = applyLaunchArgs(input.template, input.launchArgs);
  const image = t.image ?? DEFAULT_IMAGE;
  checkImage(image);
  if (t.onstart !== null && t.onstart.length > MAX_ONSTART_CHARS) throw invalid(`onstart may be at most ${MAX_ONSTART_CHARS} characters.`, 'onstart');
  const diskGb = t.diskGb ?? DEFAULT_DISK_GB;
  if (!Number.isFinite(diskGb) || diskGb <= 0 || diskGb > MAX_DISK_GB) throw invalid(`disk must be a positive number of GB, at most ${MAX_DISK_GB}.`, 'diskGb');
  checkCommand(t);
  const env: ParsedEnv = parseEnv(t.env);
  if ((t.envFrom ?? 'user') === 'user') refuseReservedNames(env.env, 'worker');
  const kept = t.ports !== undefined && t.ports.length > 0 ? t.ports : [{ containerPort: DEFAULT_WORKER_PORT, proto: 'tcp' as const }];
  const ports = env.ports.length > 0 ? env.ports : kept;
  return {
    image,
    env: env.env,
    ports,
    onstart: t.onstart,
    args: t.args,
    diskGb,
    ...(t.entrypoint !== undefined && t.entrypoint !== null ? { entrypoint: t.entrypoint } : {}),
    ...(t.readiness !== undefined && t.readiness !== 'report' ? { readiness: t.readiness } : {}),
  };
}

/** Per GPU: far past any GPU made, so a search for it finds none, but a number an index and a store can hold. */
const MAX_GPU_RAM_GB = 100_000;

function checkNumbers(gpuRamGb: number | null, testWorkers: number | null): void {
  if (gpuRamGb !== null && (!Number.isFinite(gpuRamGb) || gpuRamGb < 0 || gpuRamGb > MAX_GPU_RAM_GB))
    throw invalid(`'gpuRamGb' must be a number of GB from 0 to ${MAX_GPU_RAM_GB}.`, 'gpuRamGb');
  if (testWorkers !== null && (!Number.isInteger(testWorkers) || testWorkers < 0 || testWorkers > 100))
    throw invalid(`'testWorkers' must be an integer from 0 to 100.`, 'testWorkers');
}

/** Everything createWorkergroup refuses, checked without touching the store (a deployment checks it before it writes). */
export function checkWorkergroupInput(input: WorkergroupInput): void {
  checkPlacement(input.placement ?? DEFAULT_PLACEMENT);
  checkNumbers(input.gpuRamGb, input.testWorkers);
  buildTemplate(input);
}

/**
 * `deployment`: the workergroup is a deployment's (made by its create or a change of configuration), with what its
 * template was made from (`revision`, a configuration id). Absent: one of its own (the workergroup API's), which a
 * deployment's endpoint does not take (DEPLOYMENT_MANAGED, checked by the store as it writes): a deployment reads
 * its serving and next groups from its endpoint's list.
 */
export async function createWorkergroup(
  ctx: ControlContext,
  p: Principal,
  endpointId: number,
  input: WorkergroupInput,
  deployment: { readonly revision: string | null } | null = null,
): Promise<WorkergroupRecord> {
  const ep = await ownEndpoint(ctx, p, endpointId, 'serverless.write');
  if (ep.aliasOf !== null) throw invalid(`Endpoint '${ep.name}' is a route alias of '${ep.aliasOf}'; it has no workers of its own.`, 'endpointId');
  const placement = checkPlacement(input.placement ?? DEFAULT_PLACEMENT);
  checkNumbers(input.gpuRamGb, input.testWorkers);
  const wg = await ctx.store.createWorkergroup({
    accountId: ep.accountId,
    endpointId: ep.id,
    template: buildTemplate(input),
    placement,
    launchArgs: input.launchArgs,
    gpuRamGb: input.gpuRamGb,
    testWorkers: input.testWorkers ?? DEFAULT_TEST_WORKERS,
    revision: deployment?.revision ?? null,
    refuseOnDeployment: deployment === null,
    now: ctx.clock.now(),
    // Each is planned and recruited for in every pass of its endpoint. Every path that adds one comes here, with the
    // caller's principal: Vast's workergroups and autojobs, ones made from templates, deployments of every API and the
    // group a deployment's change of configuration adds beside the serving one (a deployment at the bound cannot
    // change configuration until one is deleted). An admin is not bound.
    ...workergroupBounds(ctx, p),
  });
  // The serverless loop recruits for it at once, not at its next tick.
  ctx.endpointSignal.intent(wg.endpointId);
  return wg;
}

/** The bounds on the workergroups the caller may add (none for an admin). */
function workergroupBounds(ctx: ControlContext, p: Principal): { maxPerAccount: number; maxPerEndpoint: number } {
  return p.isAdmin
    ? { maxPerAccount: 0, maxPerEndpoint: 0 }
    : { maxPerAccount: ctx.settings.maxWorkergroupsPerAccount, maxPerEndpoint: ctx.settings.maxWorkergroupsPerEndpoint };
}

export async function ownWorkergroup(ctx: ControlContext, p: Principal, id: number, action: ServerlessAction): Promise<WorkergroupRecord> {
  authorize(p, action, { kind: 'workergroup', id });
  const wg = await ctx.store.getWorkergroup(id);
  if (!wg || (wg.accountId !== p.accountId && !p.isAdmin)) throw new GantryError('WORKERGROUP_NOT_FOUND', `No workergroup by id ${id} is available.`, { id });
  return wg;
}

export async function listWorkergroups(ctx: ControlContext, p: Principal): Promise<WorkergroupRecord[]> {
  authorize(p, 'serverless.read');
  return ctx.store.listWorkergroups({ accountId: p.accountId });
}

/**
 * Changes apply to workers created from now on; running workers keep the template they started with
 * until `update workers` replaces them. `fromTemplate`: `template` was made from a named (Vast) template,
 * so what it leaves unset is cleared rather than kept, as if the workergroup were made from it anew.
 */
export async function updateWorkergroup(
  ctx: ControlContext,
  p: Principal,
  id: number,
  u: Partial<WorkergroupInput> & { endpointId?: number; fromTemplate?: boolean },
): Promise<WorkergroupRecord> {
  const wg = await ownWorkergroup(ctx, p, id, 'serverless.write');
  if (u.endpointId !== undefined) {
    const to = await ownEndpoint(ctx, p, u.endpointId, 'serverless.write');
    // As at create: an alias's requests go to its target's workers, so workers of its own would serve nothing.
    if (to.aliasOf !== null) throw invalid(`Endpoint '${to.name}' is a route alias of '${to.aliasOf}'; it has no workers of its own.`, 'endpointId');
  }
  const placement = checkPlacement(u.placement ?? wg.placement);
  const gpuRamGb = u.gpuRamGb !== undefined ? u.gpuRamGb : wg.gpuRamGb;
  checkNumbers(gpuRamGb, u.testWorkers ?? null);
  const t = u.template;
  const prev: Partial<WorkerTemplate> = u.fromTemplate === true ? {} : wg.template;
  // An env not given is the stored one, kept as it is: what the caller did not write is not refused now.
  const keepsEnv = t?.env === undefined || t.env === null;
  const template =
    t !== undefined || u.launchArgs !== undefined
      ? buildTemplate({
          template: {
            image: t?.image ?? prev.image ?? null,
            env: keepsEnv ? prev.env : t?.env,
            envFrom: keepsEnv ? 'stored' : (t?.envFrom ?? 'user'),
            ...(prev.ports !== undefined ? { ports: prev.ports } : {}),
            onstart: t?.onstart ?? prev.onstart ?? null,
            entrypoint: t?.entrypoint ?? prev.entrypoint ?? null,
            args: t?.args ?? prev.args ?? null,
            // How readiness is learnt is Gantry's own setting, not a template's: it stays unless given.
            readiness: t?.readiness ?? wg.template.readiness ?? 'report',
            diskGb: t?.diskGb ?? prev.diskGb ?? null,
          },
          placement,
          launchArgs: u.launchArgs ?? null,
          gpuRamGb,
          testWorkers: null,
        })
      : undefined;
  await ctx.store.updateWorkergroup(id, {
    ...(template !== undefined ? { template } : {}),
    placement,
    gpuRamGb,
    ...(u.launchArgs !== undefined ? { launchArgs: u.launchArgs } : {}),
    ...(u.testWorkers !== undefined && u.testWorkers !== null ? { testWorkers: u.testWorkers } : {}),
    // Moved to another endpoint: it counts there as one created there. Neither endpoint may be a deployment's
    // (DEPLOYMENT_MANAGED), which the store checks with both endpoints held, since a deployment is made in steps.
    ...(u.endpointId !== undefined && u.endpointId !== wg.endpointId
      ? { endpointId: u.endpointId, maxPerEndpoint: workergroupBounds(ctx, p).maxPerEndpoint }
      : {}),
  });
  // Any change may change what the endpoint wants (test_workers, placement), and it may rest (decision 026). Moved: its
  // workers are the old endpoint's to retire, and the new one's group list changed.
  ctx.endpointSignal.intent(wg.endpointId);
  if (u.endpointId !== undefined && u.endpointId !== wg.endpointId) ctx.endpointSignal.intent(u.endpointId);
  return (await ctx.store.getWorkergroup(id)) as WorkergroupRecord;
}

/**
 * Remove the workergroup; answers the ids of its workers, which are destroyed. Those of an endpoint that
 * serves (or drains for a stop) are drained first: no new request goes to them from this call on, and
 * the serverless loop destroys each once it holds none, at the latest after stopDrainTimeoutMs
 * (retire-workers.ts). Destroyed here, they cut what they held. Otherwise they hold nothing: destroyed now.
 */
export async function deleteWorkergroup(ctx: ControlContext, p: Principal, id: number): Promise<number[]> {
  const wg = await ownWorkergroup(ctx, p, id, 'serverless.write');
  const ep = await loadOwnEndpoint(ctx, p, wg.endpointId);
  // A deployment's group goes with its deployment; asked first so that its workers are left alone (the store asks
  // again as it deletes, for a deployment made meanwhile).
  const dep = await ctx.store.findDeploymentByEndpoint(ep.id);
  if (dep !== undefined) throw deploymentOwnsGroup(id, ep.id, dep.id);
  const mine = (await workersOf(ctx, ep.id)).filter((w) => w.instance.workergroupId === id);
  // Deleted before its workers are touched: a deployment made meanwhile (the store's refusal) keeps them running.
  await ctx.store.deleteWorkergroup(id, ctx.clock.now(), { refuseOnDeployment: true });
  // An endpoint that holds no request: its workers go now; otherwise the serverless loop drains them first (as
  // it would these too, orphans now, had this call ended here).
  try {
    if (!holdsRequests(ep)) await retireWorkers(ctx, ep, mine);
  } finally {
    // Every gateway reads the workers again at once (none routes to these now; the last group gone, they refuse
    // requests with NO_WORKERGROUP), and a pass begins the drain (or retires what this call could not).
    ctx.endpointSignal.intent(ep.id);
  }
  return mine.map((w) => w.instance.id);
}
