import { updateWorkersStep } from '../serverless/update-workers.js';
import { ServerlessWakeups } from './serverless-wakeups.js';
import { randomUUID } from 'node:crypto';
import { assumedPerf, decideScale, DEFAULT_PERF, type WorkerView } from '../../domain/serverless/autoscale.js';
import type { EndpointStatus } from '../../domain/serverless/lifecycle.js';
import { statusTimes, type Pass } from './endpoint-pass.js';
import { coldAndSettled, restIdle, restStopped } from './endpoint-rest.js';
import { stopPass, type StopFailures } from './endpoint-stop-pass.js';
import type { ControlContext } from '../context.js';
import { probeHttpWorkers } from '../serverless/probe.js';
import { recruitWorker } from '../serverless/recruit.js';
import { holdsRequests, retireWorkers, retiringMsg } from '../serverless/retire-workers.js';
import { ofLiveGroup } from '../serverless/routing.js';
import { holdDeadEndpoint, watchWorkerFailures, type CurrentWorker } from '../serverless/worker-failures.js';
import { actOnWorker, ownerOf, workersOf, type WorkerInfo } from '../serverless/workers.js';
import { startInactive } from '../serverless/start-inactive.js';
import type { DeploymentRecord, EndpointRecord, WorkergroupRecord } from '../../domain/serverless/records.js';
import { changeOwnedEndpoint } from '../serverless/change-endpoint.js';
import { abandonRollout, rolloutStep } from '../serverless/rollout.js';
import { retireGroup } from '../serverless/deployment-changes.js';
import { dropCodeVersions } from '../serverless/code-deployments.js';
import { codeAwaitingUpload } from '../serverless/code-uploads.js';
import { stopSilentCodeDeployment } from '../serverless/code-ttl.js';
import { planRollout } from '../../domain/serverless/rollout.js';
import { ScaleDecisionLog } from '../serverless/scale-decisions.js';
import { FailureLog } from '../failure-log.js';
import { ShownChanges } from '../serverless/shown-changes.js';
const CLAIM_LIMIT = 200;
/** Outside a change of configuration every worker of an endpoint counts toward its failures. */
const ALL_CURRENT: CurrentWorker = () => true;

/**
 * The serverless loop: every autoscaleIntervalMs it leases each live endpoint that does not rest (so
 * replicas on one database never act twice on one endpoint) and moves it toward its target — autoscaling
 * a running endpoint, draining and stopping a stopping one, destroying the workers of a deleted one. A
 * stopped one, and a running one scaled to zero, rest until an intent, a request or a deadline
 * (endpoint-rest.ts).
 */
export class ServerlessLoop {
  readonly #ctx: ControlContext;
  readonly #owner = `serverless-${randomUUID().slice(0, 8)}`;
  /** Worker-reported load per endpoint, sampled by this replica's passes. */
  readonly #reported = new Map<number, { at: number; load: number }[]>();
  readonly #recruitAfter = new Map<number, number>();
  /** Per endpoint changing configuration: the new workergroup routing went to at the last pass. */
  readonly #routedTo = new Map<number, number>();
  /**
   * Per endpoint: requests a stop's pass failed whose outcome was not recorded yet (StopFailures), with
   * the generation of that stop: an intent written since (a start, another stop) zeroed its counts, and
   * what an earlier stop failed is not the new one's.
   */
  readonly #unrecordedStopFailures = new Map<number, { readonly generation: number; readonly failures: StopFailures }>();
  readonly #decisions: ScaleDecisionLog;
  readonly #failures: FailureLog;
  readonly #shown = new ShownChanges();
  #timer: NodeJS.Timeout | null = null;
  /** When the armed timer fires (clock time). */
  #timerAt = Infinity;
  /** The earliest pass asked for while a pass ran: the next one is armed for then. */
  #dueAt = Infinity;
  #running = false;
  #wakeups: ServerlessWakeups | null = null;
  #pass: Promise<void> = Promise.resolve();
  #stopped = true;

  constructor(ctx: ControlContext) {
    this.#ctx = ctx;
    this.#decisions = new ScaleDecisionLog(ctx);
    this.#failures = new FailureLog(ctx.log.child({ component: 'serverless' }), 'serverless pass', FailureLog.timing(ctx));
  }

  start(): void {
    if (!this.#stopped) return;
    this.#stopped = false;
    // Intents (a stop, a start, a new endpoint) and deadlines ask for a pass; the periodic tick is only the fallback.
    this.#wakeups = new ServerlessWakeups(this.#ctx, (at) => this.#passAt(at));
    this.#tick();
  }

  async stop(): Promise<void> {
    this.#stopped = true;
    this.#wakeups?.close();
    if (this.#timer !== null) clearTimeout(this.#timer);
    await this.#pass;
  }

  #tick(): void {
    this.#timer = null;
    this.#timerAt = Infinity;
    this.#dueAt = Infinity;
    this.#running = true;
    this.#pass = this.#failures
      .run(() => this.runOnce(), undefined)
      .finally(() => {
        this.#running = false;
        if (!this.#stopped) this.#arm(Math.min(this.#ctx.clock.now() + this.#ctx.settings.autoscaleIntervalMs, this.#dueAt));
      });
  }

  #arm(at: number): void {
    if (this.#timer !== null) clearTimeout(this.#timer);
    this.#timerAt = at;
    this.#timer = setTimeout(() => this.#tick(), Math.max(0, at - this.#ctx.clock.now()));
  }

  /** Run a pass at `at` or sooner (an intent, a deadline, a retry after a lost lease or a backoff); one asked for during a pass follows it. */
  #passAt(at: number): void {
    if (this.#stopped) return;
    if (this.#running) this.#dueAt = Math.min(this.#dueAt, at);
    else if (at < this.#timerAt) this.#arm(at);
  }

  async runOnce(): Promise<void> {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    // Requests held here for an endpoint with no worker: it may rest (scaled to zero), by a pass before they
    // came or at a replica that did not see them. Their demand asked for this pass at once; it wakes them first.
    const waiting = ctx.traffic.waiting();
    if (waiting.length > 0) await ctx.store.wakeResting(waiting).catch((err: unknown) => ctx.log.warn({ err }, 'resting endpoints not woken'));
    const eps = await ctx.store.claimEndpoints({ owner: this.#owner, now, leaseMs: ctx.settings.leaseMs, limit: CLAIM_LIMIT });
    await Promise.all(
      eps.map(async (ep) => {
        let pass: Pass = { memory: ep.memory };
        this.#wakeups?.passing(ep.id);
        try {
          pass = await this.#step(ep);
        } catch (err) {
          ctx.log.error({ err, endpointId: ep.id }, 'endpoint pass failed');
          this.#passAt(ctx.clock.now() + Math.min(ctx.settings.autoscaleIntervalMs, 1_000)); // a wake-up it consumed is not lost
        }
        const now = ctx.clock.now();
        const outcome = await ctx.store.applyEndpointPass(ep.id, ep.leaseToken as string, {
          ...pass,
          ...statusTimes(ep, pass, now),
          generation: ep.generation,
          now,
        });
        if (outcome === 'lost') {
          ctx.log.warn({ endpointId: ep.id }, 'endpoint lease lost; pass discarded');
          this.#passAt(ctx.clock.now() + ctx.settings.observeIntervalMs);
        } else this.#unrecordedStopFailures.delete(ep.id);
        this.#wakeups?.passed(ep.id, outcome === 'applied' && pass.restUntil !== undefined);
        // 'superseded': a stop or start arrived during the pass, whose outcome is stale; the next pass works from the new intent.
        if (outcome === 'applied' && pass.status !== undefined && pass.status !== ep.status) {
          ctx.log.info({ endpointId: ep.id, from: ep.status, to: pass.status, msg: pass.statusMsg }, 'endpoint status');
          // Every replica's gateway then forgets what it kept of the endpoint (traffic.ts).
          if (pass.status === 'deleted') ctx.endpointSignal.deleted(ep.id);
        }
        if (outcome === 'applied' && pass.stop !== undefined && pass.stop.phase !== null && pass.stop.phase !== ep.stopPhase) {
          ctx.log.info({ endpointId: ep.id, from: ep.stopPhase, to: pass.stop.phase, failed: pass.stop.failed }, 'endpoint stop phase');
          // Workers asked to stop: every gateway reads that the stop, not a worker, cuts what they still hold.
          if (pass.stop.phase === 'stopping_workers') ctx.endpointSignal.intent(ep.id);
        }
        if (outcome !== 'lost') ctx.endpointSignal.notify(ep.id);
        if (outcome === 'applied') this.#shown.pass(ctx, ep, pass);
      }),
    );
  }

  async #step(ep: EndpointRecord): Promise<Pass> {
    if (ep.aliasOf !== null) {
      const status: EndpointStatus = ep.target === 'running' ? 'running' : ep.target === 'stopped' ? 'stopped' : 'deleted';
      return restStopped(ep, { status, memory: ep.memory }, this.#ctx, Infinity);
    }
    // Read once per pass: ttl, the wanted configuration and the workergroups serve every step below.
    // The workergroups first: a change of configuration records the wish before it adds the group
    // (reconfigureDeployment), so every group read here is wanted by the deployment read after it, or
    // by a later wish. Read the other way round, a group added between the two reads looked unwanted
    // and was retired at once.
    const serving = holdsRequests(ep);
    const groups = ep.target !== 'deleted' ? await this.#ctx.store.listWorkergroups({ endpointId: ep.id }) : [];
    const dep = ep.target === 'deleted' ? undefined : await this.#ctx.store.findDeploymentByEndpoint(ep.id);
    if (await this.#expire(ep, dep)) return { memory: ep.memory };
    const silent = dep === undefined ? null : await stopSilentCodeDeployment(this.#ctx, ep, dep);
    if (silent?.stopped === true) return { memory: ep.memory }; // a stop's intent, written like a user's: this pass is superseded
    if (silent?.stopped === false && silent.recheckAt !== null) this.#passAt(silent.recheckAt);
    // A rest ends no later than the deadlines a pass must act on when they fall.
    const restBound = Math.min(dep?.expiresAt ?? Infinity, silent?.recheckAt ?? Infinity);
    // Probe-ready workers are probed before workers are read, so this pass sees what they answered.
    if (serving) this.#passAt(await probeHttpWorkers(this.#ctx, ep, groups));
    const workers = await workersOf(this.#ctx, ep.id);
    this.#wakeups?.saw(ep.id, workers);
    if (ep.target === 'deleted') return this.#deletePass(ep, workers);
    // Workers of a deleted workergroup finish what they hold, then go; the autoscaler does not count them.
    const own = workers.filter((w) => ofLiveGroup(groups, w));
    const orphans = workers.filter((w) => !ofLiveGroup(groups, w));
    const retiring = orphans.length > 0 ? await retireWorkers(this.#ctx, ep, orphans) : null;
    if (ep.target === 'stopped') {
      const pass = await this.#stopPass(ep, workers);
      return retiring === null ? restStopped(ep, pass, this.#ctx, restBound) : pass;
    }
    const pass = await this.#runPass(ep, own, dep, groups, retiring === null ? restBound : null);
    const msg = retiring === null ? null : retiringMsg(retiring);
    return msg === null ? pass : { ...pass, statusMsg: pass.statusMsg === null || pass.statusMsg === undefined ? msg : `${pass.statusMsg}; ${msg}` };
  }

  /**
   * A deployment whose time to live ran out is stopped and deleted (its workers destroyed): the
   * intent is written like a user's, so this pass's own outcome is superseded.
   */
  async #expire(ep: EndpointRecord, d: DeploymentRecord | undefined): Promise<boolean> {
    if (ep.target === 'deleted') return false;
    if (d === undefined || d.expiresAt === null || d.expiresAt > this.#ctx.clock.now()) return false;
    this.#ctx.log.info({ deploymentId: d.id, ttl: d.ttl }, 'deployment ttl ran out: stopping and deleting it');
    await changeOwnedEndpoint(this.#ctx, ownerOf(ep), ep.id, 'delete', { stopFirst: true, stop: { finishPendingWork: false, force: true, timeoutMs: null } });
    await this.#ctx.store.updateDeployment(d.id, { lastOperation: 'delete', now: this.#ctx.clock.now() });
    return true;
  }

  async #deletePass(ep: EndpointRecord, workers: readonly WorkerInfo[]): Promise<Pass> {
    const ctx = this.#ctx;
    for (const w of workers) if (w.instance.target !== 'deleted') await actOnWorker(ctx, ep, w.instance.id, 'destroy');
    if (workers.length > 0) return { status: 'deleting', statusMsg: `destroying ${workers.length} worker(s)`, memory: ep.memory };
    const now = ctx.clock.now();
    for (const wg of await ctx.store.listWorkergroups({ endpointId: ep.id })) await ctx.store.deleteWorkergroup(wg.id, now);
    const dep = await ctx.store.findDeploymentByEndpoint(ep.id);
    if (dep) await ctx.store.deleteDeployment(dep.id, now).then(() => dropCodeVersions(ctx, dep.id));
    this.#forget(ep.id);
    return { status: 'deleted', statusMsg: null, memory: ep.memory };
  }

  async #stopPass(ep: EndpointRecord, workers: readonly WorkerInfo[]): Promise<Pass> {
    if (ep.status !== 'stopping') return { memory: ep.memory };
    const unrecorded = this.#unrecordedStopFailures.get(ep.id);
    const carried = unrecorded?.generation === ep.generation ? unrecorded.failures : undefined;
    const r = await stopPass(this.#ctx, ep, workers, carried);
    // Cleared once this pass's outcome is recorded (runOnce).
    if (r.failures !== undefined) this.#unrecordedStopFailures.set(ep.id, { generation: ep.generation, failures: r.failures });
    else this.#unrecordedStopFailures.delete(ep.id);
    if (r.wakeAt !== null) this.#passAt(r.wakeAt);
    return r.pass;
  }

  async #runPass(
    ep: EndpointRecord,
    workers: readonly WorkerInfo[],
    dep: DeploymentRecord | undefined,
    all: readonly WorkergroupRecord[],
    restBound: number | null,
  ): Promise<Pass> {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    // A deployment made from a configuration keeps the groups it wants (planRollout); groups it gives
    // up are retired here, under the lease, never by the request that changed the configuration.
    const plan = planRollout(all, dep?.source?.configurationId ?? null);
    for (const g of plan.retire) await retireGroup(ctx, ep, g);
    const groups = all.filter((g) => !plan.retire.includes(g));
    const target = plan.target;
    // During a change of configuration only the new workergroup's failures count: they give up the change, not the deployment.
    const current: CurrentWorker = target !== null ? (w) => w.instance.workergroupId === target.id : ALL_CURRENT;
    // Dead (workers kept failing): hold until the user starts it again or deletes it.
    if (ep.status === 'failed') {
      await holdDeadEndpoint(ctx, ep, workers, current);
      return { memory: ep.memory };
    }
    const watch = await watchWorkerFailures(ctx, ep, workers, current);
    if (watch.dead && target !== null) {
      const msg = await abandonRollout(ctx, ep, dep, target, watch.failures);
      return { statusMsg: msg, memory: { ...ep.memory, failures: undefined } };
    }
    if (watch.dead) {
      await holdDeadEndpoint(ctx, ep, workers, current);
      ctx.traffic.invalidate(ep.id);
      return { status: 'failed', statusMsg: watch.statusMsg, memory: { ...ep.memory, failures: watch.failures } };
    }
    const status: EndpointStatus = workers.some((w) => w.phase === 'ready') ? 'running' : 'pending';
    if (groups.length === 0) {
      const pass = { status, statusMsg: 'no workergroup: create one for this endpoint', memory: { ...ep.memory, failures: watch.failures } };
      return restIdle(ep, pass, ctx, restBound, workers.length === 0 && plan.retire.length === 0);
    }
    const routedEarlier = target !== null && this.#routedTo.get(ep.id) === target.id;
    const rollout = await rolloutStep(ctx, ep, dep, plan, workers, routedEarlier);
    // Which group routing went to at this pass (rollout.ts retires old workers only a pass after the switch).
    const routed = target !== null && workers.some((w) => w.instance.workergroupId === target.id && w.phase === 'ready');
    if (routed) this.#routedTo.set(ep.id, target.id);
    else this.#routedTo.delete(ep.id);

    const local = ctx.traffic.workerLoad(ep.id);
    const stalls = ctx.traffic.stalledWorkers(ep.id);
    const views: WorkerView[] = workers.map((w) => {
      const mine = local.get(w.instance.id);
      const perf = w.report?.maxPerf ?? null;
      const inFlight = Math.max(mine?.inFlight ?? 0, w.report?.numRequestsWorking ?? 0);
      // As the gateway routes around it: a request timed out there, and no report since.
      const stalled = (w.report?.reportedAt ?? 0) <= (stalls.get(w.instance.id) ?? -Infinity);
      return { id: w.instance.id, phase: w.phase, perf, inFlight, queueTimeS: (mine?.cost ?? inFlight) / (perf ?? DEFAULT_PERF), stalled, offline: w.offline };
    });
    const samples = this.#sampleReported(ep.id, now, workers);
    const pending = ctx.traffic.pending(ep.id);
    const d = decideScale({
      params: ep.params,
      now,
      workers: views,
      loadSamples: [...ctx.traffic.loadSamples(ep.id), ...samples],
      queued: pending.queued,
      oldestQueuedMs: pending.oldestQueuedMs,
      lastActivityAt: ep.lastActivityAt,
      testWorkers: Math.max(...groups.map((g) => g.testWorkers)),
      memory: ep.memory,
      tuning: { windowMs: ctx.settings.autoscaleWindowMs, scaleDownDelayMs: ctx.settings.scaleDownDelayMs, defaultPerf: assumedPerf(ep) },
    });
    // During a change of configuration the old and the new workers together exceed the worker bounds
    // on purpose (the new serve before the old go): scale-down would stop the serving old worker, or
    // the new one, and fail requests. The rollout retires old workers itself; only broken ones go here.
    // A rolling update of workers (update-workers.ts) may exceed them by one the same way; a restart in place adds none.
    const rolling = target !== null || groups.some((g) => g.workersOutdatedBefore !== null);
    const broken = new Set(views.filter((v) => v.phase === 'error').map((v) => v.id));
    const stops = rolling ? [] : d.stop;
    const destroys = rolling ? d.destroy.filter((id) => broken.has(id)) : d.destroy;
    const changed = d.start.length + stops.length + destroys.length + d.create > 0;
    if (changed) ctx.log.info({ endpointId: ep.id, ...d, stop: stops, destroy: destroys, memory: undefined }, 'autoscale');
    for (const id of stops) await actOnWorker(ctx, ep, id, 'stop');
    for (const id of destroys) await actOnWorker(ctx, ep, id, 'destroy');
    // Rolling updates of workers (Vast's `update workers`) wait while a change of configuration runs.
    const update = target === null ? await updateWorkersStep(ctx, ep, groups, workers) : { recruitInto: null, statusMsg: null, restarting: false };
    // A code deployment whose code is not stored yet: a worker would only fail to download it. Asked
    // only when a worker would start or be recruited, so a steady pass reads nothing more.
    const wants = d.create > 0 || d.start.length > 0 || rollout.needsWorker || update.recruitInto !== null;
    const awaitingCode = wants && dep !== undefined && (await codeAwaitingUpload(ctx, dep.id));
    let statusMsg: string | null = ep.suspended
      ? 'suspended: no new workers are recruited'
      : awaitingCode
        ? 'waiting for the code upload: no worker is recruited until it is stored'
        : (rollout.statusMsg ?? update.statusMsg);
    let [create, refused] = [0, (ep.suspended || awaitingCode) && d.create > 0 ? statusMsg : null];
    if (!ep.suspended && !awaitingCode) {
      const replace = await startInactive(ctx, ep, d.start, views, d.create);
      create = Math.max(update.restarting ? 0 : d.create, rollout.needsWorker ? 1 : 0, update.recruitInto !== null ? 1 : 0) + replace;
      if (create > 0) statusMsg = (refused = await this.#recruit(ep, rollout.recruitInto ?? update.recruitInto ?? groups, workers.length, create)) ?? statusMsg;
    }
    await this.#decisions.record(ep, d, { stopped: stops.length, destroyed: destroys.length, created: create, refused });
    if (changed) ctx.traffic.invalidate(ep.id);
    const pass = { status, statusMsg, memory: { ...d.memory, failures: watch.failures } };
    // Scaled to zero (or to cold workers only) and wanting nothing else; not during a change of configuration or of its workers.
    const idle = coldAndSettled(workers, d, changed || create > 0) && pending.queued === 0 && !rolling && !rollout.needsWorker && plan.retire.length === 0;
    // Nor while another replica's gateway holds requests for it (as it published them; read only when it would rest).
    const alone = idle && restBound !== null && status === ep.status && (await ctx.traffic.pendingElsewhere(ep.id)) === 0;
    return restIdle(ep, pass, ctx, restBound, alone);
  }

  /**
   * Create up to `n` workers: in the one workergroup a deployment wants, or spread over an endpoint's
   * workergroups (Vast's, which may have several); backs off when no offer matches.
   */
  async #recruit(ep: EndpointRecord, into: WorkergroupRecord | readonly WorkergroupRecord[], have: number, n: number): Promise<string | null> {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    if ((this.#recruitAfter.get(ep.id) ?? 0) > now) return 'no offer matches the workergroup placement; retrying';
    const groups: readonly WorkergroupRecord[] = Array.isArray(into) ? into : [into as WorkergroupRecord];
    for (let i = 0; i < n; i++) {
      const wg = groups[(have + i) % groups.length] as WorkergroupRecord;
      const w = await recruitWorker(ctx, ep, wg);
      if (w !== null) this.#wakeups?.recruited(ep.id, w.id);
      else {
        this.#recruitAfter.set(ep.id, now + ctx.settings.recruitBackoffMs);
        this.#passAt(now + ctx.settings.recruitBackoffMs); // the retry is due then, not at the next periodic pass
        ctx.log.warn({ endpointId: ep.id, workergroupId: wg.id, placement: wg.placement }, 'no offer for a new worker');
        return `no offer matches the placement of workergroup ${wg.id}`;
      }
    }
    return null;
  }

  /** The load workers report (covering requests other replicas sent them), kept as samples for the window. */
  #sampleReported(endpointId: number, now: number, workers: readonly WorkerInfo[]): { at: number; load: number }[] {
    const load = workers.reduce((s, w) => s + (w.report?.curLoad ?? 0), 0);
    const keepFrom = now - this.#ctx.settings.autoscaleWindowMs;
    const list = (this.#reported.get(endpointId) ?? []).filter((s) => s.at >= keepFrom);
    list.push({ at: now, load });
    this.#reported.set(endpointId, list);
    return list;
  }

  #forget(endpointId: number): void {
    this.#reported.delete(endpointId);
    this.#recruitAfter.delete(endpointId);
    this.#routedTo.delete(endpointId);
    this.#unrecordedStopFailures.delete(endpointId);
    this.#decisions.forget(endpointId);
    this.#shown.forget(endpointId);
    this.#ctx.endpointSignal.forget(endpointId);
    this.#wakeups?.saw(endpointId, []);
    this.#wakeups?.passed(endpointId, false);
  }
}
