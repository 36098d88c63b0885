import { randomUUID } from 'node:crypto';
import { isGantryError } from '../../domain/errors.js';
import { assumedObservation, planReconcile, type RuntimeStep } from '../../domain/instance/reconcile.js';
import { recordAfterLook } from '../../domain/instance/observed-record.js';
import { announce, lookWrite, told } from './look-record.js';
import { recordSwept, SWEPT_BATCH } from './swept-records.js';
import type { ControlContext } from '../context.js';
import { performStep } from './perform-step.js';
import { LookFailures } from './look-failures.js';
import { UnwrittenLooks } from './unwritten-looks.js';
import { FailureLog } from '../failure-log.js';
import { LeaseHeartbeat } from './lease-heartbeat.js';
import { askedHosts, HostSweep, type SweepReport, type SweptLook } from './host-sweep.js';
import { SweptLooks } from './swept-looks.js';
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
  /** What the sweep saw of the rows it handed over: a look records from it instead of inspecting when it can. */
  readonly #looks = new SweptLooks();
  readonly #failures = new LookFailures();
  /** When the runtime's reports were taken whose records could not be written: the next look records at that time. */
  readonly #unwritten = new UnwrittenLooks();
  /** Handed-over rows being recorded together from the sweep's looks (`recordSwept`), and that work. */
  readonly #batchIds = new Set<number>();
  #recording: Promise<void> | null = null;
  #running = false;
  #loop: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  #woken = false;
  /** A claim is wanted: at start, after a hint, a free slot, a claim that found rows, or a sleep that ran out. */
  #claimDue = true;
  /** The hinted ids the last claim asked for, and the wait before asking again for those it missed. */
  #asked: number[] = [];
  #missedWaitMs = 5;
  #unsubscribe: (() => void) | null = null;
  readonly #sweep: HostSweep;
  readonly #log: ControlContext['log'];
  #sweeping: Promise<void> | null = null;
  /** A sweep is asked for (a host connected, `wake()` without an id) or due by time. */
  #sweepAsked = true;
  #sweepAt = 0;
  /** Claims and sweeps that fail (the database gone): logged once a minute, tried again after a doubling wait. */
  readonly #claims: FailureLog;
  readonly #sweeps: FailureLog;
  #swept = { hosts: 0, failed: 0, late: 0, handedOver: 0, orphans: 0 };
  /** Totals since start, for benches and tests: hosts swept, instances handed over, per-instance looks done (and of those, recorded from the sweep's observation). */
  readonly totals = { hostsSwept: 0, handedOver: 0, looked: 0, fromSweep: 0 };

  constructor(ctx: ControlContext) {
    this.#ctx = ctx;
    this.#log = ctx.log.child({ component: 'instance-reconciler', owner: this.#owner });
    const late = (r: SweepReport): void => this.#count(r); // hosts whose listing came after their sweep returned
    this.#sweep = new HostSweep(ctx, this.#owner, (id, look) => this.#handOver(id, look), late);
    const o = FailureLog.timing(ctx, { minMs: ctx.settings.reconcileIdleMs, maxMs: ctx.settings.reconcileRetryMaxMs });
    this.#claims = new FailureLog(this.#log, 'claiming instances', o);
    this.#sweeps = new FailureLog(this.#log, 'sweeping hosts', o);
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
    if (instanceId !== undefined) this.#looks.hinted(instanceId, this.#ctx.clock.now());
    this.#claims.retryNow(); // a write was committed (or the change feed is back): the database is there, no wait
    this.#hint(instanceId);
  }

  /** The sweep hands a row over with what it saw (null from an agent that answers bare ids). */
  #handOver(instanceId: number, look: SweptLook | null): void {
    // Without a look (bare ids, a pushed listing) the next look inspects, whatever an earlier sweep kept.
    if (look !== null) this.#looks.handOver(instanceId, look);
    else this.#looks.hinted(instanceId, this.#ctx.clock.now());
    // A row with a fresh look waits for the next batch (#maybeRecordSwept): no claim for it. The batch starts
    // once the sweep's chunk has handed over all it found (the next turn of the event loop), not when the
    // loop is next free: a claim in flight would hold it up, and batches overlap the rest of the sweep.
    const batched = look !== null && this.#looks.fresh(instanceId, this.#ctx.clock.now(), this.#ctx.settings.observationMaxAgeMs);
    this.#hint(instanceId, batched);
    if (batched && this.#running && this.#recording === null) setImmediate(() => this.#running && this.#maybeRecordSwept(this.#log));
  }

  #hint(instanceId: number | undefined, batched = false): void {
    // A hint for a row this replica is working on (an exit during its start) is kept for when that work ends:
    // the claim would miss the leased row, and the work may have looked before the change.
    if (instanceId !== undefined && (this.#tasks.has(instanceId) || this.#batchIds.has(instanceId))) this.#hintedBusy.add(instanceId);
    else if (instanceId !== undefined) this.#hinted.add(instanceId);
    else this.#sweepAsked = true;
    this.#nudge(!batched);
  }

  #nudge(claim = true): void {
    this.#woken = true;
    if (claim) this.#claimDue = true;
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
  #maybeSweep(): void {
    const ctx = this.#ctx;
    if (this.#sweeping !== null || (!this.#sweepAsked && ctx.clock.now() < this.#sweepAt)) return;
    // What the last sweep handed over is claimed (or recorded in a batch) first: a sweep now would only find
    // those rows again, and compete with their looks for the store (a fleet-wide change, e.g. a host back,
    // hands over many). Bounded: hints that keep coming must not starve the sweep (10 intervals late at most).
    const waiting = this.#hinted.size > 0 || this.#batchIds.size > 0;
    if (!this.#sweepAsked && waiting && ctx.clock.now() < this.#sweepAt + 10 * ctx.settings.observeIntervalMs) return;
    this.#sweepAsked = false;
    this.#sweeping = this.#sweeps
      .run(() => this.#sweep.sweepDue(), null, askedHosts)
      .then((r) => void (r !== null && this.#count(r)))
      .finally(() => {
        this.#sweeping = null;
        this.#sweepAt = ctx.clock.now() + Math.max(Math.min(ctx.settings.reconcileIdleMs, ctx.settings.observeIntervalMs), this.#sweeps.waitMs());
        this.#nudge(); // the instances it handed over
      });
  }

  #count(r: SweepReport): void {
    this.#swept.hosts += r.hosts;
    this.#swept.failed += r.failed;
    this.#swept.late += r.late;
    this.#swept.handedOver += r.handedOver;
    this.#swept.orphans += r.orphans;
    this.totals.hostsSwept += r.hosts;
    this.totals.handedOver += r.handedOver;
  }

  async #run(): Promise<void> {
    const log = this.#log;
    const s = this.#ctx.settings;
    const heartbeat = new LeaseHeartbeat(this.#ctx, log, this.#owner, () => [...this.#tasks.keys(), ...this.#batchIds]);
    heartbeat.start(() => this.#flushSummary(log));
    try {
      // A pool, not lock-step passes: a slow stop (grace period) must not hold up a new create.
      while (this.#running) {
        this.#woken = false;
        this.#maybeSweep();
        this.#maybeRecordSwept(log);
        const free = s.reconcileConcurrency - this.#tasks.size;
        let claimed = 0;
        if (free > 0 && this.#claimDue && this.#claims.due()) {
          this.#claimDue = false;
          const rows = await this.#claims.run(() => this.#claim(Math.min(free, s.reconcileBatch)), []);
          for (const inst of rows) this.#launch(inst);
          claimed = rows.length;
          // More may be there; or the claim failed, and is tried again once its wait is over (below), woken or not.
          if (claimed > 0 || this.#claims.failures > 0) this.#claimDue = true;
        }
        const idle = Math.min(this.#retryMissed(s.reconcileIdleMs), this.#claims.failures > 0 ? Math.max(1, this.#claims.waitMs()) : Infinity);
        if (claimed === 0 && !this.#woken && this.#running)
          await this.#sleep(this.#sweeping !== null ? idle : Math.max(1, Math.min(idle, this.#sweepAt - this.#ctx.clock.now())));
        // Busy or not, requests and signals get their turn between rounds: a round on SQLite alone never waits on I/O.
        else await new Promise<void>((resolve) => setImmediate(resolve));
      }
      await this.#recording;
      await Promise.all(this.#tasks.values());
    } finally {
      heartbeat.stop();
      this.#flushSummary(log);
    }
  }

  /** One batch of handed-over rows with fresh looks at a time, beside the per-instance work; those arriving meanwhile go in the next. */
  #maybeRecordSwept(log: ControlContext['log']): void {
    if (this.#recording !== null) return;
    const ids = this.#sweptReady();
    if (ids.length === 0) return;
    this.#recording = this.#recordSwept(ids, log).finally(() => {
      this.#recording = null;
      this.#nudge();
    });
  }

  async #recordSwept(ids: readonly number[], log: ControlContext['log']): Promise<void> {
    for (const id of ids) {
      this.#hinted.delete(id);
      this.#batchIds.add(id);
    }
    try {
      const r = await recordSwept(this.#ctx, this.#owner, ids, this.#looks, this.#unwritten);
      this.totals.looked += r.recorded;
      this.totals.fromSweep += r.recorded;
      if (r.recorded > 0) this.#steps.none = (this.#steps.none ?? 0) + r.recorded;
      // Not claimed here: looked at (inspected) by the per-instance claim, with its backoff.
      this.#looks.forget(r.missed);
      for (const id of r.missed) this.#hinted.add(id);
      // Claimed, but the look no longer holds: the per-instance look, with the lease already held (a lost race is rare).
      for (const inst of r.inspect) this.#launch(inst);
    } catch (err) {
      log.error({ err }, 'recording handed-over instances failed; will look again');
      this.#looks.forget(ids);
      for (const id of ids) this.#hinted.add(id);
    } finally {
      for (const id of ids) {
        this.#batchIds.delete(id);
        if (this.#hintedBusy.delete(id)) this.#hinted.add(id);
      }
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
    if (Object.keys(steps).length === 0 && swept.hosts + swept.failed + swept.late === 0) return;
    this.#steps = {};
    this.#swept = { hosts: 0, failed: 0, late: 0, handedOver: 0, orphans: 0 };
    const busy = Object.keys(steps).some((k) => k !== 'none') || swept.orphans + swept.failed + swept.late > 0;
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
      this.#looks.forget(missed);
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
    let more = false;
    for (const id of this.#hinted) {
      // Rows with a fresh look from the sweep are recorded together (#maybeRecordSwept), not one by one.
      if (this.#looks.fresh(id, now, s.observationMaxAgeMs)) continue;
      if (dueIds.length >= limit) {
        more = true;
        break;
      }
      dueIds.push(id);
    }
    for (const id of dueIds) this.#hinted.delete(id);
    if (more) this.#nudge();
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

  #sweptReady(): number[] {
    return this.#looks.ready(this.#hinted, this.#ctx.clock.now(), this.#ctx.settings.observationMaxAgeMs, SWEPT_BATCH);
  }

  #sleep(ms: number): Promise<void> {
    return new Promise<void>((resolve) => {
      const done = (): void => {
        clearTimeout(t);
        resolve();
      };
      // Run out (no wake-up): the claim is the safety net for whatever is due by time.
      const t = setTimeout(() => {
        this.#claimDue = true;
        done();
      }, ms);
      this.#wakeUp = done;
    }).then(() => {
      this.#wakeUp = null;
    });
  }

  /** A sweep of the due hosts (late listings too), then one claim and the work on all of it, awaited (tests drive the reconciler step by step with this). */
  async passOnce(): Promise<number> {
    this.#count(await this.#sweep.sweepDue());
    await this.#sweep.caughtUp();
    const log = this.#log;
    for (let ids = this.#sweptReady(); ids.length > 0; ids = this.#sweptReady()) await this.#recordSwept(ids, log);
    await Promise.all(this.#tasks.values()); // rows whose look no longer held, looked at one by one
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
    let noLookSince: number | undefined; // a stop sent without a look: its failed look counts from the stop's start
    this.totals.looked++;
    const token = inst.leaseToken as string;
    const log = ctx.log.child({ instanceId: inst.id });
    const host = ctx.hosts.get(inst.machineId);
    let kept = false;
    try {
      if (!host) return 'none'; // not claimable: claims are limited to connected hosts
      // What the sweep saw a moment ago stands for a look when nothing changed since (swept-looks.ts).
      const seen = this.#looks.take(inst, ctx.clock.now(), ctx.settings.observationMaxAgeMs);
      if (seen !== null) this.totals.fromSweep++;
      const assumed = seen === null ? assumedObservation(inst) : null;
      if (assumed !== null) noLookSince = ctx.clock.now();
      const obs = seen ?? assumed ?? (await host.inspect(inst.id));
      const plan = planReconcile(inst, obs);
      // A stop or destroy sends its signal at once and records `stopping` meanwhile: the interim record is
      // for whoever looks during a long stop, not a step the runtime waits for. Other steps record it first.
      const ending = plan.step === 'stop' || plan.step === 'destroy';
      const performing = ending ? performStep(ctx, host, inst, plan.step, obs, assumed === null) : null;
      performing?.catch(() => undefined); // awaited below; a host gone meanwhile must not reject unheard
      if (plan.interim !== null && plan.interim !== inst.status) {
        const ok = await ctx.store.applyObservation(inst.id, token, {
          status: plan.interim,
          // A stop's reason (written with the intent, e.g. no credit) stays shown while it stops.
          statusMsg: plan.step === 'stop' ? inst.statusMsg : null,
          exitCode: null,
          observedGeneration: inst.observedGeneration,
          pendingOpDone: false,
          now: ctx.clock.now(),
        });
        if (!ok) {
          // The lease is lost: whoever holds it now records the outcome (a second stop of the same workload changes nothing).
          await performing?.catch(() => undefined);
          return 'none';
        }
        announce(ctx, inst, plan.interim);
      }
      const { after, error, note } = await (performing ?? performStep(ctx, host, inst, plan.step, obs));
      const rec = recordAfterLook(inst, { step: plan.step, after, error, imageNotice: host.imageNotice, note: note ?? null });
      const write = lookWrite(inst, plan.step, rec, ctx.clock.now());
      // The look worked: a failing episode is over, whatever it records (a message of that episode is cleared).
      const row = plan.interim === null ? inst : { ...inst, status: plan.interim }; // as the write finds it
      const ok = await this.#unwritten.write(row, write, (w) => ctx.store.applyObservation(inst.id, token, w));
      if (ok) await this.#failures.succeeded(ctx, inst.id, write === null ? inst.statusMsg : write.statusMsg);
      if (write === null) return 'none';
      if (ok) told(ctx, inst, write);
      return plan.step;
    } catch (err) {
      // A host gone is retried when it is back (claims take connected hosts only); a host whose runtime errs, later.
      if (isGantryError(err) && err.code === 'HOST_UNAVAILABLE') log.warn({ reason: err.message }, 'host unavailable; will retry');
      else kept = await this.#failures.kept(ctx, this.#owner, inst, err, noLookSince);
      return 'error';
    } finally {
      if (!kept) await ctx.store.releaseLease(inst.id, token, ctx.clock.now()).catch(() => undefined);
    }
  }
}
