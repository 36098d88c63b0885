import { randomUUID } from 'node:crypto';
import { isGantryError } from '../../domain/errors.js';
import { planReconcile, type Observation, type RuntimeStep } from '../../domain/instance/reconcile.js';
import { recordAfterLook } from '../../domain/instance/observed-record.js';
import type { ControlContext } from '../context.js';
import type { HostLink } from '../hosts/hosts.js';
import { workloadSpec } from '../instances/workload-spec.js';
import { HostSweep, type SweepReport } from './host-sweep.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';

/**
 * Moves every instance's observed status toward its target. A host sweep (`host-sweep.ts`, decision 017)
 * lists each connected host's workloads once per observeIntervalMs and hands over the instances a look
 * would change; a fetcher claims those, pending requests and unsettled rows with a lease (owner, token,
 * expiry) in the store; workers talk to the host outside any transaction and apply results guarded by the
 * lease token, so several replicas on one database never act twice.
 */
export class InstanceReconciler {
  readonly #ctx: ControlContext;
  readonly #owner = `reconciler-${randomUUID().slice(0, 8)}`;
  /** Rows being worked on, by instance id; their leases are extended by the heartbeat. */
  readonly #tasks = new Map<number, Promise<void>>();
  #steps: Record<string, number> = {};
  /** Instances whose workload just ended: claimed on the next fetch without waiting for observeIntervalMs. */
  readonly #hinted = new Set<number>();
  /** Hints that arrived while this replica worked on the row: hinted again when that work ends. */
  readonly #hintedBusy = new Set<number>();
  #running = false;
  #loop: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  #woken = false;
  /** The hinted ids the last claim asked for, and the wait before asking again for those it missed. */
  #asked: number[] = [];
  #missedWaitMs = 5;
  #unsubscribe: (() => void) | null = null;
  readonly #sweep: HostSweep;
  #sweeping: Promise<void> | null = null;
  /** A sweep is asked for (a host connected, `wake()` without an id) or due by time. */
  #sweepAsked = true;
  #sweepAt = 0;
  #swept = { hosts: 0, failed: 0, handedOver: 0, orphans: 0 };
  /** Totals since start, for benches and tests: hosts swept, instances handed over, per-instance looks done. */
  readonly totals = { hostsSwept: 0, handedOver: 0, looked: 0 };

  constructor(ctx: ControlContext) {
    this.#ctx = ctx;
    this.#sweep = new HostSweep(ctx, this.#owner, (id) => this.wake(id));
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    // Intents written here or at another replica, and workloads that ended: id null asks for a look at every due row.
    this.#unsubscribe = this.#ctx.store.changes.subscribe('instance', (c) => this.wake(c.id ?? undefined));
    this.#loop = this.#run();
  }

  /** Look for work now (after API writes); with an id, also look at that instance although it is not due; without, sweep the due hosts now. */
  wake(instanceId?: number): void {
    // A hint for a row this replica is working on (an exit during its start) is kept for when that work ends:
    // the claim would miss the leased row, and the work may have looked before the change.
    if (instanceId !== undefined && this.#tasks.has(instanceId)) this.#hintedBusy.add(instanceId);
    else if (instanceId !== undefined) this.#hinted.add(instanceId);
    else this.#sweepAsked = true;
    this.#nudge();
  }

  #nudge(): void {
    this.#woken = true;
    this.#wakeUp?.();
  }

  async stop(): Promise<void> {
    this.#unsubscribe?.();
    this.#running = false;
    this.#nudge();
    await this.#loop;
    await this.#sweeping;
    await this.#sweep.settled();
  }

  /** One sweep of the due hosts at a time, in the background of the claims; at most every reconcileIdleMs unless asked, and not while hints wait. */
  #maybeSweep(log: ControlContext['log']): void {
    const ctx = this.#ctx;
    if (this.#sweeping !== null || (!this.#sweepAsked && ctx.clock.now() < this.#sweepAt)) return;
    // What the last sweep handed over is claimed first: a sweep now would only find those rows again, and
    // compete with their looks for the store (a fleet-wide change, e.g. a host back, hands over many).
    // Bounded: hints that keep coming must not starve the sweep (10 intervals late at most).
    if (!this.#sweepAsked && this.#hinted.size > 0 && ctx.clock.now() < this.#sweepAt + 10 * ctx.settings.observeIntervalMs) return;
    this.#sweepAsked = false;
    this.#sweeping = this.#sweep
      .sweepDue()
      .then(
        (r) => this.#count(r),
        (err: unknown) => log.error({ err }, 'sweeping hosts failed'),
      )
      .finally(() => {
        this.#sweeping = null;
        this.#sweepAt = ctx.clock.now() + Math.min(ctx.settings.reconcileIdleMs, ctx.settings.observeIntervalMs);
        this.#nudge(); // the instances it handed over
      });
  }

  #count(r: SweepReport): void {
    this.#swept.hosts += r.hosts;
    this.#swept.failed += r.failed;
    this.#swept.handedOver += r.handedOver;
    this.#swept.orphans += r.orphans;
    this.totals.hostsSwept += r.hosts;
    this.totals.handedOver += r.handedOver;
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
        this.#maybeSweep(log);
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
        if (claimed === 0 && !this.#woken && this.#running)
          await this.#sleep(this.#sweeping !== null ? idle : Math.max(1, Math.min(idle, this.#sweepAt - this.#ctx.clock.now())));
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
        if (this.#hintedBusy.delete(inst.id)) this.#hinted.add(inst.id);
        this.#nudge(); // a slot is free
      });
    this.#tasks.set(inst.id, task);
  }

  /** One wide event per heartbeat period with the steps taken and the hosts swept; quiet periods (observations only) log at debug. */
  #flushSummary(log: ControlContext['log']): void {
    const steps = this.#steps;
    const swept = this.#swept;
    if (Object.keys(steps).length === 0 && swept.hosts + swept.failed === 0) return;
    this.#steps = {};
    this.#swept = { hosts: 0, failed: 0, handedOver: 0, orphans: 0 };
    const busy = Object.keys(steps).some((k) => k !== 'none') || swept.orphans + swept.failed > 0;
    log[busy ? 'info' : 'debug']({ steps, swept, inFlight: this.#tasks.size }, 'reconcile summary');
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
    // As many hinted ids as the claim can take (a sweep may hand over thousands); the rest wait their turn.
    const dueIds: number[] = [];
    for (const id of this.#hinted) {
      if (dueIds.length >= limit) break;
      dueIds.push(id);
    }
    for (const id of dueIds) this.#hinted.delete(id);
    if (this.#hinted.size > 0) this.#woken = true;
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

  /** A sweep of the due hosts, then one claim and the work on all of it, awaited (tests drive the reconciler step by step with this). */
  async passOnce(): Promise<number> {
    this.#count(await this.#sweep.sweepDue());
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
    this.totals.looked++;
    const token = inst.leaseToken as string;
    const log = ctx.log.child({ instanceId: inst.id });
    const host = ctx.hosts.get(inst.machineId);
    try {
      if (!host) return 'none'; // not claimable: claims are limited to connected hosts
      const obs = await host.inspect(inst.id);
      const plan = planReconcile(inst, obs);
      // A stop or destroy sends its signal at once and records `stopping` meanwhile: the interim record is
      // for whoever looks during a long stop, not a step the runtime waits for. Other steps record it first.
      const ending = plan.step === 'stop' || plan.step === 'destroy';
      const performing = ending ? this.#perform(host, inst, plan.step, obs) : null;
      performing?.catch(() => undefined); // awaited below; a host gone meanwhile must not reject unheard
      if (plan.interim !== null && plan.interim !== inst.status) {
        const ok = await this.#apply(inst, token, {
          status: plan.interim,
          // A stop's reason (written with the intent, e.g. no credit) stays shown while it stops.
          statusMsg: plan.step === 'stop' ? inst.statusMsg : null,
          exitCode: null,
          observedGeneration: inst.observedGeneration,
          pendingOpDone: false,
        });
        if (!ok) {
          // The lease is lost: whoever holds it now records the outcome (a second stop of the same workload changes nothing).
          await performing?.catch(() => undefined);
          return 'none';
        }
        ctx.store.changes.publish('instance-status', inst.id);
        log.info({ from: inst.status, to: plan.interim, generation: inst.generation }, 'instance status');
        ctx.metrics.instanceTransitions.inc({ to: plan.interim });
      }
      const { after, error } = await (performing ?? this.#perform(host, inst, plan.step, obs));
      const rec = recordAfterLook(inst, { step: plan.step, after, error, imageNotice: host.imageNotice });
      const out = { status: rec.status, exitCode: rec.exitCode };
      const { started, statusMsg: msg } = rec;
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
