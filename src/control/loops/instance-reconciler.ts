import { randomUUID } from 'node:crypto';
import { isGantryError } from '../../domain/errors.js';
import { outcomeOf, planReconcile, type Observation, type RuntimeStep } from '../../domain/instance/reconcile.js';
import type { ControlContext } from '../context.js';
import type { HostLink } from '../hosts/hosts.js';
import { workloadSpec } from '../instances/workload-spec.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';

/** Prefix of status_msg after a start the runtime refused (spawn error, container create error). */
const FAILED_START = 'failed to start: ';
/**
 * Moves every instance's observed status toward its target. A fetcher claims due rows with a lease
 * (owner, token, expiry) in the store; workers talk to the host outside any transaction and apply
 * results guarded by the lease token, so several replicas on one database never act twice.
 */
export class InstanceReconciler {
  readonly #ctx: ControlContext;
  readonly #owner = `reconciler-${randomUUID().slice(0, 8)}`;
  /** Rows being worked on, by instance id; their leases are extended by the heartbeat. */
  readonly #tasks = new Map<number, Promise<void>>();
  #steps: Record<string, number> = {};
  /** Instances whose workload just ended: claimed on the next fetch without waiting for observeIntervalMs. */
  readonly #hinted = new Set<number>();
  #running = false;
  #loop: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  #woken = false;
  /** The hinted ids the last claim asked for, and the wait before asking again for those it missed. */
  #asked: number[] = [];
  #missedWaitMs = 5;
  #unsubscribe: (() => void) | null = null;

  constructor(ctx: ControlContext) {
    this.#ctx = ctx;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    // Intents written here or at another replica, and workloads that ended: id null asks for a look at every due row.
    this.#unsubscribe = this.#ctx.store.changes.subscribe('instance', (c) => this.wake(c.id ?? undefined));
    this.#loop = this.#run();
  }

  /** Look for work now (after API writes); with an id, also look at that instance although it is not due. */
  wake(instanceId?: number): void {
    if (instanceId !== undefined) this.#hinted.add(instanceId);
    this.#woken = true;
    this.#wakeUp?.();
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#running = false;
    this.wake();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const log = this.#ctx.log.child({ component: 'instance-reconciler', owner: this.#owner });
    const s = this.#ctx.settings;
    const heartbeat = setInterval(
      () => {
        this.#ctx.store
          .extendLeases(this.#owner, [...this.#tasks.keys()], this.#ctx.clock.now() + s.leaseMs)
          .catch((err: unknown) => log.warn({ err }, 'lease heartbeat failed'));
        this.#flushSummary(log);
      },
      Math.max(50, Math.floor(s.leaseMs / 3)),
    );
    try {
      // A pool, not lock-step passes: a slow stop (grace period) must not hold up a new create.
      while (this.#running) {
        this.#woken = false;
        const free = s.reconcileConcurrency - this.#tasks.size;
        let claimed = 0;
        if (free > 0) {
          const rows = await this.#claim(Math.min(free, s.reconcileBatch)).catch((err: unknown) => {
            log.error({ err }, 'claiming instances failed');
            return [];
          });
          for (const inst of rows) this.#launch(inst);
          claimed = rows.length;
        }
        const idle = this.#retryMissed(s.reconcileIdleMs);
        if (claimed === 0 && !this.#woken && this.#running) await this.#sleep(idle);
      }
      await Promise.all(this.#tasks.values());
    } finally {
      clearInterval(heartbeat);
      this.#flushSummary(log);
    }
  }

  #launch(inst: InstanceRecord): void {
    const task = this.#reconcile(inst)
      .then((step) => {
        this.#steps[step] = (this.#steps[step] ?? 0) + 1;
        this.#ctx.metrics.reconcileSteps.inc({ step });
      })
      .finally(() => {
        this.#tasks.delete(inst.id);
        this.wake(); // a slot is free
      });
    this.#tasks.set(inst.id, task);
  }

  /** One wide event per heartbeat period with the steps taken; quiet periods (observations only) log at debug. */
  #flushSummary(log: ControlContext['log']): void {
    const steps = this.#steps;
    if (Object.keys(steps).length === 0) return;
    this.#steps = {};
    const busy = Object.keys(steps).some((k) => k !== 'none');
    log[busy ? 'info' : 'debug']({ steps, inFlight: this.#tasks.size }, 'reconcile summary');
  }

  /**
   * A hinted instance the claim could not take (its row locked a moment by another writer, a lease about
   * to be released) is asked for again soon: the hint was its only wake-up, and without it the change
   * would wait for observeIntervalMs. Backs off from 5 ms to `idleMs`, then leaves it to the polls.
   * Returns how long to sleep when nothing was claimed.
   */
  #retryMissed(idleMs: number): number {
    const missed = this.#asked.filter((id) => !this.#tasks.has(id));
    this.#asked = [];
    if (missed.length === 0 || this.#missedWaitMs >= idleMs) {
      this.#missedWaitMs = 5;
      return idleMs;
    }
    for (const id of missed) this.#hinted.add(id);
    const wait = this.#missedWaitMs;
    this.#missedWaitMs *= 2;
    return wait;
  }

  #claim(limit: number): Promise<InstanceRecord[]> {
    const s = this.#ctx.settings;
    const now = this.#ctx.clock.now();
    const dueIds = [...this.#hinted];
    this.#hinted.clear();
    this.#asked = dueIds;
    return this.#ctx.store.claimInstances({
      dueIds,
      owner: this.#owner,
      now,
      leaseMs: s.leaseMs,
      observeBefore: now - s.observeIntervalMs,
      limit,
      machineIds: this.#ctx.hosts.machineIds(),
    });
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const t = setTimeout(done, ms);
      function done(): void {
        clearTimeout(t);
        resolve();
      }
      this.#wakeUp = done;
    }).then(() => {
      this.#wakeUp = null;
    });
  }

  /** One claim and the work on all of it, awaited (tests drive the reconciler step by step with this). */
  async passOnce(): Promise<number> {
    const rows = await this.#claim(this.#ctx.settings.reconcileBatch);
    const queue = [...rows];
    const worker = async (): Promise<void> => {
      for (let inst = queue.shift(); inst !== undefined; inst = queue.shift()) await this.#reconcile(inst);
    };
    await Promise.all(Array.from({ length: Math.min(this.#ctx.settings.reconcileConcurrency, rows.length) }, worker));
    return rows.length;
  }

  async #reconcile(inst: InstanceRecord): Promise<RuntimeStep | 'error'> {
    const ctx = this.#ctx;
    const token = inst.leaseToken as string;
    const log = ctx.log.child({ instanceId: inst.id });
    const host = ctx.hosts.get(inst.machineId);
    try {
      if (!host) return 'none'; // not claimable: claims are limited to connected hosts
      const obs = await host.inspect(inst.id);
      const plan = planReconcile(inst, obs);
      if (plan.interim !== null && plan.interim !== inst.status) {
        const ok = await this.#apply(inst, token, {
          status: plan.interim,
          // A stop's reason (written with the intent, e.g. no credit) stays shown while it stops.
          statusMsg: plan.step === 'stop' ? inst.statusMsg : null,
          exitCode: null,
          observedGeneration: inst.observedGeneration,
          pendingOpDone: false,
        });
        if (!ok) return 'none';
        ctx.store.changes.publish('instance-status', inst.id);
        log.info({ from: inst.status, to: plan.interim, generation: inst.generation }, 'instance status');
        ctx.metrics.instanceTransitions.inc({ to: plan.interim });
      }
      const { after, error } = await this.#perform(host, inst, plan.step, obs);
      const out = outcomeOf(inst, after, inst);
      const starting = plan.step === 'start' || plan.step === 'restart' || plan.step === 'recycle';
      // A launch that succeeded counts as a start even if the workload already ended (exit code recorded).
      const started = starting && error === null && after.state !== 'absent';
      let msg = error === null ? out.message : starting ? `${FAILED_START}${error}` : out.status === 'failed' ? `${plan.step} failed: ${error}` : out.message;
      // A stop's reason (no credit, outbid) stays shown, also at later looks at the stopped instance, and so
      // does why an instance waits for GPUs.
      const stillStopped = plan.step === 'none' && inst.status === 'stopped' && out.status === 'stopped';
      if ((plan.step === 'stop' || stillStopped || inst.gpuWaitSince !== null) && msg === null) msg = inst.statusMsg;
      // A start that failed leaves nothing that ran (or a stale exit record): later looks at the same state
      // keep the start's own reason instead of replacing it with a guess ("exit code unknown").
      if (plan.step === 'none' && out.status === inst.status && out.exitCode === inst.exitCode && inst.statusMsg?.startsWith(FAILED_START) === true)
        msg = inst.statusMsg;
      if (started && inst.startDate === null && host.imageNotice !== null) msg = msg === null ? host.imageNotice : `${host.imageNotice}; ${msg}`;
      if (!started && out.status === 'running' && inst.status === 'running' && inst.statusMsg !== null) {
        // Keep what the first start said (the image notice) for the rest of that run.
        const notice = host.imageNotice !== null && inst.statusMsg.startsWith(host.imageNotice) ? host.imageNotice : null;
        if (msg === null) msg = inst.statusMsg;
        else if (notice !== null && !msg.startsWith(notice)) msg = `${notice}; ${msg}`;
      }
      // A plain observation that changes nothing writes nothing (releasing the lease stamps the time).
      const unchanged =
        plan.step === 'none' &&
        out.status === inst.status &&
        msg === inst.statusMsg &&
        out.exitCode === inst.exitCode &&
        inst.observedGeneration === inst.generation;
      if (unchanged) return 'none';
      const ok = await this.#apply(inst, token, {
        status: out.status,
        statusMsg: msg,
        exitCode: out.exitCode,
        observedGeneration: inst.generation,
        pendingOpDone: plan.step === 'restart' || plan.step === 'recycle',
        ...(started ? { startDate: ctx.clock.now() } : {}),
      });
      if (ok && out.status !== inst.status) {
        ctx.store.changes.publish('instance-status', inst.id);
        log.info({ from: inst.status, to: out.status, generation: inst.generation, reason: msg }, 'instance status');
        ctx.metrics.instanceTransitions.inc({ to: out.status });
      }
      return plan.step;
    } catch (err) {
      if (isGantryError(err) && err.code === 'HOST_UNAVAILABLE') log.warn({ reason: err.message }, 'host unavailable; will retry');
      else log.error({ err }, 'reconcile failed; will retry');
      return 'error';
    } finally {
      await ctx.store.releaseLease(inst.id, token, ctx.clock.now()).catch(() => undefined);
    }
  }

  #apply(inst: InstanceRecord, token: string, o: Omit<Parameters<ControlContext['store']['applyObservation']>[2], 'now'>): Promise<boolean> {
    return this.#ctx.store.applyObservation(inst.id, token, { ...o, now: this.#ctx.clock.now() });
  }

  /**
   * Carry out one runtime step; returns the observation after it and what went wrong. The link bounds the
   * step (stepTimeoutMs), not this loop: only it knows whether the agent took the step (STEP_TIMEOUT, a
   * failed step) or is gone (HOST_UNAVAILABLE), so a second timer here would only race it.
   */
  async #perform(host: HostLink, inst: InstanceRecord, step: RuntimeStep, before: Observation): Promise<{ after: Observation; error: string | null }> {
    const stop = { graceMs: this.#ctx.settings.stopGraceMs };
    const attempt = async (p: Promise<Observation>): Promise<{ after: Observation; error: string | null }> => {
      try {
        return { after: await p, error: null };
      } catch (err) {
        // A host that went away is not a failed step: record nothing, the row is looked at again later.
        if (isGantryError(err) && err.code === 'HOST_UNAVAILABLE') throw err;
        // Truth after a failed step comes from a fresh look, not from what we hoped happened.
        return { after: await host.inspect(inst.id).catch(() => before), error: err instanceof Error ? err.message : String(err) };
      }
    };
    const start = (): Promise<{ after: Observation; error: string | null }> =>
      attempt(
        workloadSpec(this.#ctx, inst)
          .then((spec) => host.start(spec))
          .then(() => host.inspect(inst.id)),
      );
    switch (step) {
      case 'none':
        return { after: before, error: null };
      case 'start':
        return start();
      case 'stop':
        return attempt(host.stop(inst.id, stop));
      case 'destroy': {
        const r = await attempt(host.destroy(inst.id, stop));
        if (r.after.state === 'absent') await this.#ctx.store.revokeInstanceKeys(inst.id, this.#ctx.clock.now());
        return r;
      }
      case 'restart':
      case 'recycle': {
        const stopped = await attempt(host.stop(inst.id, stop));
        if (stopped.after.state === 'running') return { after: stopped.after, error: stopped.error ?? 'the old processes did not stop' };
        if (step === 'recycle') {
          // A wipe that hangs or fails is a failed step too (recorded with its reason), not a retry forever.
          const wiped = await attempt(host.wipeDisk(inst.id).then(() => host.inspect(inst.id)));
          if (wiped.error !== null) return { after: wiped.after, error: `disk wipe failed: ${wiped.error}` };
        }
        return start();
      }
    }
  }
}
