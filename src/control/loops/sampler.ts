import { bucketStart, FLEET_SUBJECT, meanUtil, ratePerSecond } from '../../domain/series.js';
import type { SamplePoint } from '../../store/series-store.js';
import type { ControlContext } from '../context.js';
import { IntervalPass } from './interval-pass.js';
import { FailureLog } from '../failure-log.js';

/** A gateway's held-request count older than this is a dead replica's (src/gateway/shared-pending.ts publishes every 0.5 s). */
const PENDING_FRESH_MS = 5_000;
/** Endpoint states whose gateway counts move; a stopped endpoint's rate is not sampled. */
const LIVE = new Set(['pending', 'running', 'stopping', 'unknown']);

/**
 * Records the console's time series every samplerIntervalMs, one bucket per interval: spend rate per
 * account and queue depth per endpoint are one set-based statement each, computed in the database;
 * GPU utilisation (machines and the fleet) comes from the cached machine list and requests per second
 * from this replica's gateway counters, each written as one multi-row upsert. Every replica may run
 * it: a bucket's row is keyed by its start, so replicas write the same row instead of adding one.
 */
export class Sampler {
  readonly #ctx: ControlContext;
  /** The gateway's finished-request counter per endpoint at the last tick. */
  readonly #counted = new Map<number, { count: number; at: number }>();
  readonly #every: IntervalPass;
  readonly #failures: FailureLog;

  constructor(ctx: ControlContext) {
    this.#ctx = ctx;
    this.#failures = new FailureLog(ctx.log.child({ component: 'sampler' }), 'sampling', FailureLog.timing(ctx));
    this.#every = new IntervalPass(ctx.settings.samplerIntervalMs, () => this.#pass());
  }

  start(): void {
    this.#every.start();
  }

  async stop(): Promise<void> {
    await this.#every.stop();
  }

  async #pass(): Promise<void> {
    await this.#failures.run(() => this.runOnce(), undefined);
  }

  async runOnce(): Promise<void> {
    const ctx = this.#ctx;
    const now = ctx.clock.now();
    const bucket = bucketStart(now, ctx.settings.samplerIntervalMs);
    await ctx.store.sampleSpend(bucket);
    await ctx.store.sampleQueue(bucket, now - PENDING_FRESH_MS);
    await ctx.store.putSamples('gpu_util', bucket, await this.#gpuUtil(), 'replace');
    const rps = await this.#rps(now);
    if (rps.length > 0) await ctx.store.putSamples('rps', bucket, rps, 'max');
  }

  /** Each online machine's mean GPU utilisation and the fleet's (over all its GPUs). */
  async #gpuUtil(): Promise<SamplePoint[]> {
    const out: SamplePoint[] = [];
    let sum = 0;
    let gpus = 0;
    for (const m of await this.#ctx.machines.list()) {
      const mean = m.online ? meanUtil(m.gpuUtils) : null;
      if (mean === null || m.gpuUtils === null) continue;
      out.push({ subject: m.id, value: mean });
      sum += mean * m.gpuUtils.length;
      gpus += m.gpuUtils.length;
    }
    out.push({ subject: FLEET_SUBJECT, value: gpus === 0 ? 0 : sum / gpus });
    return out;
  }

  /** Requests this replica's gateway finished per second since the last tick, per live endpoint. */
  async #rps(now: number): Promise<SamplePoint[]> {
    const out: SamplePoint[] = [];
    const live = (await this.#ctx.store.listEndpoints(null)).filter((ep) => LIVE.has(ep.status));
    const seen = new Set<number>();
    for (const ep of live) {
      seen.add(ep.id);
      const c = this.#ctx.traffic.stats(ep.id).deployment;
      const count = c.inferenceCount + c.errorCount + c.timeoutCount + c.rejectedExecutionCount;
      const rate = ratePerSecond(this.#counted.get(ep.id), count, now);
      this.#counted.set(ep.id, { count, at: now });
      if (rate !== null) out.push({ subject: ep.id, value: rate });
    }
    for (const id of this.#counted.keys()) if (!seen.has(id)) this.#counted.delete(id);
    return out;
  }
}
