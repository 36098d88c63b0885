import { randomUUID } from 'node:crypto';
import { outcomeOf, planReconcile, type Observation, type RuntimeStep } from '../../domain/instance/reconcile.js';
import type { InstanceRecord } from '../../store/store.js';
import type { ControlContext } from '../context.js';
import type { HostLink } from '../hosts.js';
import { workloadSpec } from '../workload-spec.js';

/**
 * Moves every instance's observed status toward its target. A fetcher claims due rows with a lease
 * (owner, token, expiry) in the store; workers talk to the host outside any transaction and apply
 * results guarded by the lease token, so several replicas on one database never act twice.
 */
export class InstanceReconciler {
  readonly #ctx: ControlContext;
  readonly #owner = `reconciler-${randomUUID().slice(0, 8)}`;
  readonly #inFlight = new Set<number>();
  #running = false;
  #loop: Promise<void> | null = null;
  #wakeUp: (() => void) | null = null;
  #woken = false;

  constructor(ctx: ControlContext) {
    this.#ctx = ctx;
  }

  start(): void {
    if (this.#running) return;
    this.#running = true;
    this.#loop = this.#run();
  }

  /** Look for work now (called after API writes and when a workload exits). */
  wake(): void {
    this.#woken = true;
    this.#wakeUp?.();
  }

  async stop(): Promise<void> {
    this.#running = false;
    this.wake();
    await this.#loop;
  }

  async #run(): Promise<void> {
    const log = this.#ctx.log.child({ component: 'instance-reconciler', owner: this.#owner });
    const heartbeat = setInterval(
      () => {
        const until = this.#ctx.clock.now() + this.#ctx.settings.leaseMs;
        this.#ctx.store.extendLeases(this.#owner, [...this.#inFlight], until).catch((err: unknown) => log.warn({ err }, 'lease heartbeat failed'));
      },
      Math.max(50, Math.floor(this.#ctx.settings.leaseMs / 3)),
    );
    try {
      while (this.#running) {
        this.#woken = false;
        const worked = await this.passOnce().catch((err: unknown) => {
          log.error({ err }, 'reconcile pass failed');
          return 0;
        });
        if (worked === 0 && !this.#woken && this.#running) await this.#sleep(this.#ctx.settings.reconcileIdleMs);
      }
    } finally {
      clearInterval(heartbeat);
    }
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

  /** One fetch and the work on what it claimed; returns how many rows were worked on. */
  async passOnce(): Promise<number> {
    const s = this.#ctx.settings;
    const started = this.#ctx.clock.now();
    const rows = await this.#ctx.store.claimInstances({
      owner: this.#owner,
      now: started,
      leaseMs: s.leaseMs,
      observeBefore: started - s.observeIntervalMs,
      limit: s.reconcileBatch,
      machineIds: this.#ctx.hosts.machineIds(),
    });
    if (rows.length === 0) return 0;
    const queue = [...rows];
    const counts: Record<string, number> = {};
    const worker = async (): Promise<void> => {
      for (let inst = queue.shift(); inst !== undefined; inst = queue.shift()) {
        this.#inFlight.add(inst.id);
        try {
          const step = await this.#reconcile(inst);
          counts[step] = (counts[step] ?? 0) + 1;
        } finally {
          this.#inFlight.delete(inst.id);
        }
      }
    };
    await Promise.all(Array.from({ length: Math.min(s.reconcileConcurrency, rows.length) }, worker));
    // One wide event per pass with counts; quiet passes (only observations) log at debug.
    const busy = Object.keys(counts).some((k) => k !== 'none');
    this.#ctx.log[busy ? 'info' : 'debug'](
      { component: 'instance-reconciler', claimed: rows.length, steps: counts, ms: this.#ctx.clock.now() - started },
      'reconcile pass',
    );
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
          statusMsg: null,
          exitCode: null,
          observedGeneration: inst.observedGeneration,
          pendingOpDone: false,
        });
        if (!ok) return 'none';
        log.info({ from: inst.status, to: plan.interim, generation: inst.generation }, 'instance status');
      }
      const { after, startError } = await this.#perform(host, inst, plan.step, obs);
      const out = outcomeOf(inst, after, inst);
      // A launch that succeeded counts as a start even if the workload already ended (exit code recorded).
      const started = (plan.step === 'start' || plan.step === 'restart' || plan.step === 'recycle') && startError === null && after.state !== 'absent';
      let msg = startError !== null ? `failed to start: ${startError}` : out.message;
      if (started && inst.startDate === null && host.imageNotice !== null) msg = msg === null ? host.imageNotice : `${host.imageNotice}; ${msg}`;
      if (!started && out.status === 'running' && inst.status === 'running' && inst.statusMsg !== null && msg === null) msg = inst.statusMsg;
      const ok = await this.#apply(inst, token, {
        status: out.status,
        statusMsg: msg,
        exitCode: out.exitCode,
        observedGeneration: inst.generation,
        pendingOpDone: plan.step === 'restart' || plan.step === 'recycle',
        ...(started ? { startDate: ctx.clock.now() } : {}),
      });
      if (ok && out.status !== inst.status) log.info({ from: inst.status, to: out.status, generation: inst.generation, reason: msg }, 'instance status');
      return plan.step;
    } catch (err) {
      log.error({ err }, 'reconcile failed; will retry');
      return 'error';
    } finally {
      await ctx.store.releaseLease(inst.id, token, ctx.clock.now()).catch(() => undefined);
    }
  }

  #apply(inst: InstanceRecord, token: string, o: Omit<Parameters<ControlContext['store']['applyObservation']>[2], 'now'>): Promise<boolean> {
    return this.#ctx.store.applyObservation(inst.id, token, { ...o, now: this.#ctx.clock.now() });
  }

  /** Carry out one runtime step within its bound; returns the observation after it. */
  async #perform(host: HostLink, inst: InstanceRecord, step: RuntimeStep, before: Observation): Promise<{ after: Observation; startError: string | null }> {
    const s = this.#ctx.settings;
    const stop = { graceMs: s.stopGraceMs };
    const bounded = <T>(p: Promise<T>, what: string): Promise<T> => withTimeout(p, s.stepTimeoutMs, `${what} did not complete within ${s.stepTimeoutMs} ms`);
    const start = async (): Promise<{ after: Observation; startError: string | null }> => {
      try {
        await bounded(host.start(workloadSpec(this.#ctx, inst)), 'start');
      } catch (err) {
        return { after: await host.inspect(inst.id), startError: err instanceof Error ? err.message : String(err) };
      }
      return { after: await host.inspect(inst.id), startError: null };
    };
    switch (step) {
      case 'none':
        return { after: before, startError: null };
      case 'start':
        return start();
      case 'stop':
        return { after: await bounded(host.stop(inst.id, stop), 'stop').catch(() => before), startError: null };
      case 'destroy': {
        const after = await bounded(host.destroy(inst.id, stop), 'destroy').catch(() => before);
        if (after.state === 'absent') await this.#ctx.store.revokeInstanceKeys(inst.id, this.#ctx.clock.now());
        return { after, startError: null };
      }
      case 'restart':
      case 'recycle': {
        const stopped = await bounded(host.stop(inst.id, stop), 'stop').catch(() => before);
        if (stopped.state === 'running') return { after: stopped, startError: 'the old processes did not stop' };
        if (step === 'recycle') await host.wipeDisk(inst.id);
        return start();
      }
    }
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  return Promise.race([
    p.finally(() => clearTimeout(timer)),
    new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new Error(message)), ms);
    }),
  ]);
}
