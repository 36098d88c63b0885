import type { WorkerFailures } from './dead.js';
import type { EndpointParams } from './params.js';
import { ACTIVE_PHASES, holdsPlace, type WorkerPhase } from './workers.js';

/**
 * The autoscaling policy: a pure function from what the engine sees to what it should do. The loop in
 * src/control/loops/serverless-loop.ts gathers the input and carries out the decision.
 *
 *   hot capacity   = max(anticipated load, min_load) / target_util      (anticipated = peak of the window)
 *   active workers = ceil(hot capacity / perf)   (+1 while the queue waits longer than target_queue_time)
 *   cold capacity  = max(hot capacity × cold_mult, min_cold_load)
 *   all workers    = max(active + cold_workers, ceil(cold capacity / perf), min_workers), at most max_workers
 *
 * Scale-up acts at once; scale-down only after the lower target has held for `scaleDownDelayMs`, and
 * the load is the peak over a window longer than the metric period, so it does not flap.
 */
export interface WorkerView {
  readonly id: number;
  readonly phase: WorkerPhase;
  /** Load units per second from its benchmark; null until it reported one. */
  readonly perf: number | null;
  /** Requests it is working on now. A busy worker is never stopped by scale-down. */
  readonly inFlight: number;
  /** Estimated wait, seconds, for a request sent to it now. */
  readonly queueTimeS: number;
  /**
   * A request timed out at it and it has not reported since (the gateway routes around it): not capacity,
   * so the load is planned without it, but within max_workers, and never stopped or destroyed for it
   * (a hung worker goes by the failing-worker rules: its report goes stale, it is in error).
   */
  readonly stalled?: boolean;
  /**
   * Its host went offline a short while ago (workerOfflineGraceMs): in error, yet waited for, not destroyed,
   * since an agent that comes back brings it back with its model loaded. Like a stalled worker it is not
   * capacity and keeps its place under max_workers; past the grace it is an error like any other.
   */
  readonly offline?: boolean;
}

export interface ScaleMemory {
  /** Since when the active target has been below the active count (scale-down hysteresis). */
  readonly activeLowSince: number | null;
  /** Same for the total worker count. */
  readonly totalLowSince: number | null;
  /** Worker failures since a worker was last ready (dead.ts); absent: none. decideScale leaves it to the loop. */
  readonly failures?: WorkerFailures;
}

/** Perf assumed for a worker that has not reported a benchmark (queue-time estimates). */
export const DEFAULT_PERF = 1;

/** Until a benchmark arrives, one worker is assumed to carry the endpoint's floor (min_load at target_util). */
export function assumedPerf(ep: { readonly params: Pick<EndpointParams, 'minLoad' | 'targetUtil'> }): number {
  return Math.max(DEFAULT_PERF, ep.params.minLoad / ep.params.targetUtil);
}

export const EMPTY_MEMORY: ScaleMemory = { activeLowSince: null, totalLowSince: null };

export interface ScaleTuning {
  /** Load is the peak of the samples in this window. */
  readonly windowMs: number;
  /** A lower target must hold this long before workers are stopped or destroyed. */
  readonly scaleDownDelayMs: number;
  /** Perf assumed for a worker before any worker has reported a benchmark. */
  readonly defaultPerf: number;
}

export interface ScaleInput {
  readonly params: EndpointParams;
  readonly now: number;
  readonly workers: readonly WorkerView[];
  /** Load (units per second) the endpoint received, sampled over time. */
  readonly loadSamples: readonly { readonly at: number; readonly load: number }[];
  /** Requests waiting for a worker (the gateway's queue and /route/ calls answered without a worker). */
  readonly queued: number;
  readonly oldestQueuedMs: number;
  /** Last request, or when the endpoint was (re)started if later. */
  readonly lastActivityAt: number;
  /** While no worker has a benchmark, at most this many workers exist (the workergroup's test_workers). */
  readonly testWorkers: number;
  readonly memory: ScaleMemory;
  readonly tuning: ScaleTuning;
}

export interface ScaleDecision {
  readonly activeTarget: number;
  readonly totalTarget: number;
  /** Inactive workers to start (first choice for new capacity: their model is loaded). */
  readonly start: readonly number[];
  /** New workers to create from offers. */
  readonly create: number;
  /** Active, idle workers to stop (they become inactive). */
  readonly stop: readonly number[];
  /** Inactive or broken workers to destroy. */
  readonly destroy: readonly number[];
  readonly memory: ScaleMemory;
  readonly reason: string;
}

const EPS = 1e-9;

function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 === 1 ? (s[mid] as number) : ((s[mid - 1] as number) + (s[mid] as number)) / 2;
}

/** How many active workers the load calls for, before hysteresis. */
function activeNeed(i: ScaleInput, perf: number, activeCount: number): { need: number; hot: number; why: string } {
  const p = i.params;
  const recent = i.loadSamples.filter((s) => s.at >= i.now - i.tuning.windowMs).map((s) => s.load);
  const anticipated = Math.max(0, ...recent);
  const hot = Math.max(anticipated, p.minLoad) / p.targetUtil;
  let need = Math.max(0, Math.ceil(hot / perf - EPS));
  let why = `load ${anticipated.toFixed(2)}/s, hot capacity ${hot.toFixed(2)}`;
  if (anticipated > 0 || p.minLoad > 0) need = Math.max(need, 1);
  if (i.queued > 0) {
    const ready = i.workers.filter((w) => w.phase === 'ready' && w.stalled !== true);
    const slow = i.oldestQueuedMs >= p.targetQueueTime * 1000 || (ready.length > 0 && ready.every((w) => w.queueTimeS >= p.targetQueueTime));
    if (activeCount === 0) need = Math.max(need, 1);
    else if (slow) need = Math.max(need, activeCount + 1);
    else need = Math.max(need, activeCount);
    why += `, ${i.queued} queued${slow ? ' beyond target_queue_time' : ''}`;
  }
  const idleMs = i.now - i.lastActivityAt;
  if (p.inactivityTimeout < 0) need = Math.max(need, 1);
  else if (p.inactivityTimeout > 0 && need === 0 && idleMs < p.inactivityTimeout * 1000) need = Math.min(1, activeCount);
  return { need: Math.min(need, p.maxWorkers), hot, why };
}

/** Hold a lower target until it has lasted `delay`; returns the target to act on and the new memory. */
function hold(want: number, current: number, since: number | null, now: number, delay: number): { target: number; since: number | null } {
  if (want >= current) return { target: want, since: null };
  const from = since ?? now;
  return now - from >= delay ? { target: want, since: null } : { target: current, since: from };
}

export function decideScale(i: ScaleInput): ScaleDecision {
  const p = i.params;
  const perfs = i.workers.map((w) => w.perf).filter((x): x is number => x !== null && x > 0);
  const perf = perfs.length > 0 ? median(perfs) : i.tuning.defaultPerf;
  const placed = i.workers.filter(holdsPlace);
  const broken = i.workers.filter((w) => w.phase === 'error' && !holdsPlace(w));
  const live = placed.filter((w) => w.phase !== 'error');
  const counted = live.filter((w) => w.stalled !== true);
  // Stalled workers and those of an offline host take no share of the load, but their places under max_workers.
  const room = p.maxWorkers - (placed.length - counted.length);
  const active = counted.filter((w) => ACTIVE_PHASES.has(w.phase));
  const inactive = counted.filter((w) => w.phase === 'inactive');

  const { need, hot, why } = activeNeed(i, perf, active.length);
  const cold = Math.max(hot * p.coldMult, p.minColdLoad);
  let total = Math.max(need + p.coldWorkers, Math.ceil(cold / perf - EPS), p.minWorkers, 0);
  if (perfs.length === 0) total = Math.min(total, Math.max(need, i.testWorkers));
  total = Math.max(Math.min(total, p.maxWorkers), need);

  const a = hold(need, active.length, i.memory.activeLowSince, i.now, i.tuning.scaleDownDelayMs);
  const t = hold(total, counted.length, i.memory.totalLowSince, i.now, i.tuning.scaleDownDelayMs);

  const start: number[] = [];
  let create = 0;
  if (a.target > active.length) {
    let deficit = a.target - active.length;
    for (const w of [...inactive].sort((x, y) => (y.perf ?? 0) - (x.perf ?? 0))) {
      if (deficit === 0) break;
      start.push(w.id);
      deficit--;
    }
    create = Math.max(0, Math.min(deficit, room - counted.length));
  }
  if (t.target > counted.length + create) create += Math.max(0, Math.min(t.target, room) - counted.length - create);

  const stop: number[] = [];
  if (a.target < active.length) {
    // Workers that are not ready go first: stopping the one that serves while keeping one that may
    // never serve left deployments with nothing ready. Then the lowest perf, then the newest (the
    // least invested: a worker restarted with its model is kept over one just created). Busy
    // workers are never stopped.
    const order = (w: WorkerView): number => (w.phase === 'ready' ? 1 : 0);
    const idle = active.filter((w) => w.inFlight === 0).sort((x, y) => order(x) - order(y) || (x.perf ?? 0) - (y.perf ?? 0) || y.id - x.id);
    stop.push(...idle.slice(0, active.length - a.target).map((w) => w.id));
  }
  const destroy = broken.map((w) => w.id);
  if (t.target < counted.length) {
    const spare = inactive.filter((w) => !start.includes(w.id)).sort((x, y) => (x.perf ?? 0) - (y.perf ?? 0));
    destroy.push(...spare.slice(0, counted.length - t.target).map((w) => w.id));
  }
  return {
    activeTarget: a.target,
    totalTarget: t.target,
    start,
    create,
    stop,
    destroy,
    memory: { activeLowSince: a.since, totalLowSince: t.since },
    reason: `${why}, perf ${perf.toFixed(2)}/worker → ${a.target} active of ${t.target}`,
  };
}
