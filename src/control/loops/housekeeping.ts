import { isGantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';

/**
 * Periodic chores: the orphan sweep (workloads the runtime runs whose instance record is gone or
 * destroyed are stopped and removed; the other direction, records whose workload vanished, is the
 * reconciler's observation), the offline mark for instances of silent hosts, and expiry of result URLs.
 */
export class Housekeeping {
  readonly #ctx: ControlContext;
  #timer: NodeJS.Timeout | null = null;
  #pass: Promise<void> = Promise.resolve();

  constructor(ctx: ControlContext) {
    this.#ctx = ctx;
  }

  start(): void {
    if (this.#timer !== null) return;
    const tick = (): void => {
      this.#pass = this.runOnce().then(
        () => undefined,
        (err: unknown) => {
          this.#ctx.log.error({ err, component: 'housekeeping' }, 'housekeeping failed');
        },
      );
    };
    tick();
    this.#timer = setInterval(tick, this.#ctx.settings.sweepIntervalMs);
  }

  async stop(): Promise<void> {
    if (this.#timer !== null) clearInterval(this.#timer);
    this.#timer = null;
    await this.#pass;
  }

  /** Returns the instance ids removed as orphans. */
  async runOnce(): Promise<number[]> {
    const ctx = this.#ctx;
    const removed: number[] = [];
    for (const machineId of ctx.hosts.machineIds()) {
      const host = ctx.hosts.get(machineId);
      if (!host) continue;
      // A host that went away meanwhile is swept when it is back.
      const running = await host.list().catch((err: unknown) => {
        if (isGantryError(err) && err.code === 'HOST_UNAVAILABLE') return null;
        throw err;
      });
      if (running === null) continue;
      const live = await ctx.store.liveInstanceIds(machineId);
      for (const id of running) {
        if (live.has(id)) continue;
        // Re-read: the instance may have been created between the two reads above.
        const rec = await ctx.store.getInstance(id);
        if (rec && rec.machineId === machineId && rec.status !== 'destroyed') continue;
        ctx.log.warn({ component: 'housekeeping', machineId, instanceId: id }, 'removing orphan workload');
        await host.destroy(id, { graceMs: ctx.settings.stopGraceMs });
        removed.push(id);
      }
    }
    await this.#markOffline();
    await ctx.store.purgeResults(ctx.clock.now());
    return removed;
  }

  /** Instances of hosts silent for machineOfflineMs become `unknown`; the reconciler sets truth when the host is back. */
  async #markOffline(): Promise<void> {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    const since = now - ctx.settings.machineOfflineMs;
    const ids = await ctx.store.markInstancesOfSilentMachines(
      since,
      `host offline: no heartbeat for over ${Math.round(ctx.settings.machineOfflineMs / 1000)} s`,
      now,
    );
    if (ids.length > 0) {
      ctx.log.warn({ component: 'housekeeping', instances: ids }, 'host offline; instances marked unknown');
      ctx.metrics.instanceTransitions.inc({ to: 'unknown' }, ids.length);
    }
  }
}
