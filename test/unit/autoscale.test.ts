import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { decideScale, EMPTY_MEMORY, type ScaleInput, type WorkerView } from '../../src/domain/serverless/autoscale.js';
import { decideEndpoint, type EndpointState } from '../../src/domain/serverless/lifecycle.js';
import { DEFAULT_ENDPOINT_PARAMS, mergeEndpointParams, type EndpointParams } from '../../src/domain/serverless/params.js';
import { vastParamsPatch } from '../../src/api/dialects/vast/endpoint-params.js';
import { vastMessage } from '../../src/api/dialects/vast/errors.js';
import { GantryError } from '../../src/domain/errors.js';

/** Parameters by Vast's names merged as the Vast dialect does it, refusals in the words its clients read. */
function mergeVastParams(base: EndpointParams, body: Record<string, unknown>): EndpointParams {
  try {
    return mergeEndpointParams(base, vastParamsPatch(body));
  } catch (err) {
    throw err instanceof GantryError ? new Error(vastMessage(err)) : err;
  }
}
import { notReadyReason, workerPhase } from '../../src/domain/serverless/workers.js';

const NOW = 1_000_000;
const P: EndpointParams = { ...DEFAULT_ENDPOINT_PARAMS, minLoad: 0, coldWorkers: 0, minWorkers: 0, targetUtil: 1, maxWorkers: 10, coldMult: 1 };
const ready = (id: number, o: Partial<WorkerView> = {}): WorkerView => ({ id, phase: 'ready', perf: 10, inFlight: 0, queueTimeS: 0, ...o });
const inactive = (id: number, o: Partial<WorkerView> = {}): WorkerView => ({ id, phase: 'inactive', perf: 10, inFlight: 0, queueTimeS: 0, ...o });

function input(o: Partial<Omit<ScaleInput, 'params'>> & { params?: Partial<EndpointParams> }): ScaleInput {
  return {
    now: NOW,
    workers: [],
    loadSamples: [],
    queued: 0,
    oldestQueuedMs: 0,
    lastActivityAt: NOW - 3_600_000,
    testWorkers: 3,
    memory: EMPTY_MEMORY,
    tuning: { windowMs: 30_000, scaleDownDelayMs: 60_000, defaultPerf: 10 },
    ...o,
    params: { ...P, ...o.params },
  };
}

interface Case {
  readonly name: string;
  readonly in: ScaleInput;
  readonly want: Partial<{ activeTarget: number; totalTarget: number; start: number[]; create: number; stop: number[]; destroy: number[] }>;
}

const CASES: readonly Case[] = [
  {
    name: 'active capacity = load / target_util',
    in: input({ loadSamples: [{ at: NOW - 1000, load: 27 }], params: { targetUtil: 0.9 } }),
    want: { activeTarget: 3, create: 3 },
  },
  {
    name: 'load is the peak of the window, older samples ignored',
    in: input({
      loadSamples: [
        { at: NOW - 5000, load: 35 },
        { at: NOW - 40_000, load: 90 },
      ],
    }),
    want: { activeTarget: 4 },
  },
  { name: 'min_load floors the load', in: input({ params: { minLoad: 25 } }), want: { activeTarget: 3 } },
  { name: 'min_load > 0 keeps at least one worker', in: input({ params: { minLoad: 0.1 } }), want: { activeTarget: 1 } },
  { name: 'no load, min_load 0: nothing', in: input({}), want: { activeTarget: 0, totalTarget: 0, create: 0 } },
  { name: 'unknown perf uses the default perf', in: input({ loadSamples: [{ at: NOW, load: 25 }] }), want: { activeTarget: 3, create: 3 } },
  {
    name: 'max_workers caps everything',
    in: input({ loadSamples: [{ at: NOW, load: 500 }], params: { maxWorkers: 4 } }),
    want: { activeTarget: 4, totalTarget: 4 },
  },
  { name: 'min_workers keeps workers (inactive) without load', in: input({ params: { minWorkers: 2 } }), want: { activeTarget: 0, totalTarget: 2, create: 2 } },
  { name: 'cold_workers beyond the active ones', in: input({ params: { minLoad: 10, coldWorkers: 2 } }), want: { activeTarget: 1, totalTarget: 3 } },
  {
    name: 'cold_mult: cold capacity a multiple of hot',
    in: input({ workers: [ready(1)], params: { minLoad: 10, coldMult: 3 } }),
    want: { activeTarget: 1, totalTarget: 3, create: 2 },
  },
  { name: 'min_cold_load: a floor for cold capacity', in: input({ workers: [ready(1)], params: { minLoad: 10, minColdLoad: 40 } }), want: { totalTarget: 4 } },
  {
    name: 'inactive workers start before new ones are created',
    in: input({ workers: [ready(1), inactive(2), inactive(3, { perf: 20 })], loadSamples: [{ at: NOW, load: 35 }] }),
    want: { activeTarget: 4, start: [3, 2], create: 1 },
  },
  { name: 'a queue with no active worker scales from zero', in: input({ queued: 1, oldestQueuedMs: 10 }), want: { activeTarget: 1, create: 1 } },
  {
    name: 'a queue waiting past target_queue_time adds a worker',
    in: input({ workers: [ready(1, { inFlight: 3 })], queued: 2, oldestQueuedMs: 11_000, params: { targetQueueTime: 10 } }),
    want: { activeTarget: 2, create: 1 },
  },
  {
    name: 'workers whose own queues pass target_queue_time also add one',
    in: input({ workers: [ready(1, { inFlight: 3, queueTimeS: 12 })], queued: 1, oldestQueuedMs: 5, params: { targetQueueTime: 10 } }),
    want: { activeTarget: 2 },
  },
  {
    name: 'a short queue does not scale down',
    in: input({ workers: [ready(1), ready(2)], queued: 1, oldestQueuedMs: 5, params: { targetQueueTime: 10 } }),
    want: { activeTarget: 2, stop: [] },
  },
  {
    name: 'inactivity_timeout > 0: the last worker stays until idle long enough',
    in: input({ workers: [ready(1)], lastActivityAt: NOW - 5_000, params: { inactivityTimeout: 60 } }),
    want: { activeTarget: 1, stop: [] },
  },
  {
    name: 'inactivity_timeout > 0: idle longer than it, scale to zero',
    in: input({
      workers: [ready(1)],
      lastActivityAt: NOW - 120_000,
      params: { inactivityTimeout: 60 },
      memory: { activeLowSince: NOW - 61_000, totalLowSince: NOW - 61_000 },
    }),
    want: { activeTarget: 0, stop: [1] },
  },
  {
    name: 'inactivity_timeout < 0: never scale to zero',
    in: input({ workers: [ready(1)], params: { inactivityTimeout: -1 }, memory: { activeLowSince: NOW - 61_000, totalLowSince: null } }),
    want: { activeTarget: 1 },
  },
  { name: 'inactivity_timeout < 0 starts one even from zero', in: input({ params: { inactivityTimeout: -1 } }), want: { activeTarget: 1, create: 1 } },
  {
    name: 'hysteresis: a lower target waits for scaleDownDelay',
    in: input({ workers: [ready(1), ready(2), ready(3)], loadSamples: [{ at: NOW, load: 10 }] }),
    want: { activeTarget: 3, stop: [] },
  },
  {
    name: 'after the delay, surplus idle workers stop (not-ready ones first, then lowest perf first)',
    in: input({
      workers: [ready(1, { perf: 20 }), ready(2), { id: 3, phase: 'loading', perf: null, inFlight: 0, queueTimeS: 0 }],
      loadSamples: [{ at: NOW, load: 10 }],
      memory: { activeLowSince: NOW - 60_000, totalLowSince: NOW - 60_000 },
    }),
    want: { activeTarget: 1, stop: [3, 2] },
  },
  {
    name: 'scale-down keeps the ready worker and stops the one still loading its model',
    in: input({
      workers: [ready(1), { id: 2, phase: 'model_loading', perf: null, inFlight: 0, queueTimeS: 0 }],
      params: { minLoad: 1 },
      memory: { activeLowSince: NOW - 60_000, totalLowSince: NOW - 60_000 },
    }),
    want: { activeTarget: 1, stop: [2] },
  },
  {
    name: 'scale-down never stops a busy worker',
    in: input({ workers: [ready(1, { inFlight: 2 }), ready(2, { inFlight: 1 })], memory: { activeLowSince: NOW - 60_000, totalLowSince: NOW - 60_000 } }),
    want: { activeTarget: 0, stop: [] },
  },
  {
    name: 'inactive workers beyond the cold target are destroyed',
    in: input({ workers: [inactive(1), inactive(2)], params: { minWorkers: 1 }, memory: { activeLowSince: null, totalLowSince: NOW - 60_000 } }),
    want: { totalTarget: 1, destroy: [1] },
  },
  {
    name: 'broken workers are destroyed and do not count',
    in: input({ workers: [{ id: 9, phase: 'error', perf: 10, inFlight: 0, queueTimeS: 0 }], params: { minLoad: 1 } }),
    want: { destroy: [9], create: 1 },
  },
  {
    name: 'while no worker has a benchmark, test_workers caps the total',
    in: input({ params: { minLoad: 1, minWorkers: 8 }, testWorkers: 2 }),
    want: { totalTarget: 2, create: 2 },
  },
  // A worker a request timed out at, with no report since (the gateway routes around it): not capacity, never stopped for it.
  {
    name: 'a stalled worker is not capacity: the load gets another worker',
    in: input({ workers: [ready(1, { stalled: true, inFlight: 1 })], loadSamples: [{ at: NOW - 1000, load: 5 }] }),
    want: { activeTarget: 1, create: 1, stop: [], destroy: [] },
  },
  {
    name: 'a stalled worker is not stopped by scale-down, even idle and above the target',
    in: input({ workers: [ready(1), ready(2, { stalled: true })], memory: { activeLowSince: NOW - 120_000, totalLowSince: NOW - 120_000 } }),
    want: { activeTarget: 0, stop: [1], destroy: [] },
  },
  {
    name: 'a stalled worker keeps its place under max_workers',
    in: input({ workers: [ready(1, { stalled: true, inFlight: 2 })], loadSamples: [{ at: NOW - 1000, load: 50 }], params: { maxWorkers: 2 } }),
    want: { activeTarget: 2, create: 1, stop: [] },
  },
  {
    name: 'a stalled worker in error (its report went stale) is destroyed as any broken worker',
    in: input({ workers: [{ id: 9, phase: 'error', perf: 10, inFlight: 1, queueTimeS: 0, stalled: true }], params: { minLoad: 1 } }),
    want: { destroy: [9], create: 1 },
  },
  // A worker whose host went offline a short while ago (workerOfflineGraceMs): waited for, not replaced yet.
  {
    name: 'a worker of an offline host is not destroyed, and not capacity: the load gets another worker',
    in: input({ workers: [{ id: 9, phase: 'error', perf: 10, inFlight: 0, queueTimeS: 0, offline: true }], params: { minLoad: 1 } }),
    want: { destroy: [], create: 1 },
  },
  {
    name: 'a worker of an offline host keeps its place under max_workers',
    in: input({ workers: [{ id: 9, phase: 'error', perf: 10, inFlight: 0, queueTimeS: 0, offline: true }], params: { minLoad: 1, maxWorkers: 1 } }),
    want: { destroy: [], create: 0 },
  },
];

describe('autoscaling policy (table)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const d = decideScale(c.in);
      const got: Record<string, unknown> = {};
      for (const k of Object.keys(c.want)) got[k] = d[k as keyof typeof d];
      assert.deepEqual(got, c.want, d.reason);
    });
  }

  it('does not flap: a load that dips inside the window keeps the workers', () => {
    const workers = [ready(1), ready(2)];
    let memory = EMPTY_MEMORY;
    const loads = [20, 0, 20, 0, 20, 0];
    for (let i = 0; i < loads.length; i++) {
      const now = NOW + i * 5_000;
      const samples = loads.slice(0, i + 1).map((load, j) => ({ at: NOW + j * 5_000, load }));
      const d = decideScale(input({ now, workers, loadSamples: samples, memory, lastActivityAt: now }));
      assert.deepEqual(d.stop, [], `step ${i}: ${d.reason}`);
      assert.equal(d.create, 0);
      memory = d.memory;
    }
  });
});

describe('endpoint lifecycle rules', () => {
  const s = (target: EndpointState['target'], status: EndpointState['status']): EndpointState => ({ id: 1, target, status });
  it('stop from pending or running; idempotent while stopping or stopped; retried from failed', () => {
    assert.deepEqual(decideEndpoint(s('running', 'running'), 'stop'), { target: 'stopped', status: 'stopping' });
    assert.deepEqual(decideEndpoint(s('running', 'pending'), 'stop'), { target: 'stopped', status: 'stopping' });
    assert.equal(decideEndpoint(s('stopped', 'stopping'), 'stop'), null);
    assert.equal(decideEndpoint(s('stopped', 'stopped'), 'stop'), null);
    assert.deepEqual(decideEndpoint(s('stopped', 'failed'), 'stop'), { target: 'stopped', status: 'stopping' });
  });
  it('start from stopped or failed; refused while stopping; idempotent when running', () => {
    assert.deepEqual(decideEndpoint(s('stopped', 'stopped'), 'start'), { target: 'running', status: 'pending' });
    assert.deepEqual(decideEndpoint(s('stopped', 'failed'), 'start'), { target: 'running', status: 'pending' });
    assert.throws(() => decideEndpoint(s('stopped', 'stopping'), 'start'), /still stopping/);
    assert.equal(decideEndpoint(s('running', 'running'), 'start'), null);
  });
  it('delete from stopped or failed, or from anything when the call means stop-then-delete', () => {
    assert.throws(() => decideEndpoint(s('running', 'running'), 'delete'), /stop it first/);
    assert.deepEqual(decideEndpoint(s('running', 'running'), 'delete', { stopFirst: true }), { target: 'deleted', status: 'deleting' });
    assert.deepEqual(decideEndpoint(s('stopped', 'stopped'), 'delete'), { target: 'deleted', status: 'deleting' });
    assert.equal(decideEndpoint(s('deleted', 'deleting'), 'delete'), null);
    assert.throws(() => decideEndpoint(s('deleted', 'deleting'), 'start'), /being deleted/);
  });
});

describe('endpoint parameters and worker phases', () => {
  const pick = (p: EndpointParams): number[] => [p.minWorkers, p.maxWorkers];
  it('merges by the users names, coercing numeric strings, and names the bad field', () => {
    const p = mergeVastParams(DEFAULT_ENDPOINT_PARAMS, { min_load: '5', max_workers: 3, min_workers: 2, inactivity_timeout: -1 });
    assert.equal(p.minLoad, 5);
    assert.equal(p.maxWorkers, 3);
    assert.equal(p.inactivityTimeout, -1);
    assert.throws(() => mergeVastParams(P, { target_util: 0 }), /target_util/);
    assert.throws(() => mergeVastParams(P, { target_util: 1.5 }), /target_util/);
    assert.throws(() => mergeVastParams(P, { max_workers: 2.5 }), /max_workers.*integer/);
    assert.throws(() => mergeVastParams(P, { cold_mult: 'lots' }), /cold_mult/);
    assert.throws(() => mergeVastParams(P, { min_workers: 20, max_workers: 5 }), /min_workers/);
    // A bound the request leaves yields to the one it sets (the default min_workers is 5).
    assert.deepEqual(pick(mergeVastParams(DEFAULT_ENDPOINT_PARAMS, { max_workers: 2 })), [2, 2]);
    assert.deepEqual(pick(mergeVastParams({ ...DEFAULT_ENDPOINT_PARAMS, maxWorkers: 3 }, { min_workers: 4 })), [4, 4]);
    assert.deepEqual(pick(mergeVastParams({ ...DEFAULT_ENDPOINT_PARAMS, minWorkers: 1 }, { max_workers: 2 })), [1, 2]);
  });
  it('derives Vast worker states from the instance and the worker report', () => {
    const f = (target: 'running' | 'stopped' | 'deleted', status: string, loaded = false, errorMsg: string | null = null): string =>
      workerPhase({ target, status: status as never, loaded, errorMsg });
    assert.equal(f('running', 'created'), 'creating');
    assert.equal(f('running', 'loading'), 'loading');
    assert.equal(f('running', 'running'), 'model_loading');
    assert.equal(f('running', 'running', true), 'ready');
    assert.equal(f('running', 'running', true, 'oom'), 'error');
    assert.equal(f('running', 'stopped'), 'starting');
    assert.equal(f('stopped', 'running'), 'stopping');
    assert.equal(f('stopped', 'stopped'), 'inactive');
    assert.equal(f('deleted', 'running'), 'destroying');
    assert.equal(f('running', 'exited'), 'error');
    assert.equal(f('running', 'rebooting'), 'rebooting');
  });
});

describe('a worker that will not become ready (notReadyReason)', () => {
  const base = { status: 'running' as const, statusMsg: null, loaded: false, runningForMs: 1000, readyTimeoutMs: 60_000 };
  it('a loading worker within the bound is not in error', () => {
    assert.equal(notReadyReason(base), null);
  });
  it('a worker whose command exited with an error is, even after the host runtime notice', () => {
    assert.match(notReadyReason({ ...base, statusMsg: 'onstart exited with code 1' }) ?? '', /exited with code 1/);
    assert.match(notReadyReason({ ...base, statusMsg: 'process runtime: the image is not pulled; onstart exited with code 98' }) ?? '', /code 98/);
    assert.equal(notReadyReason({ ...base, statusMsg: 'onstart exited with code 0' }), null, 'a setup onstart that succeeded says nothing');
  });
  it('a worker past the readiness bound is', () => {
    assert.match(notReadyReason({ ...base, runningForMs: 61_000 }) ?? '', /not ready within 60s/);
  });
  it('a ready worker is only once its command exited with an error; one not running never is', () => {
    assert.equal(notReadyReason({ ...base, loaded: true, runningForMs: 1e9 }), null);
    assert.equal(
      notReadyReason({ ...base, loaded: true, statusMsg: 'onstart exited with code 0', runningForMs: 1e9 }),
      null,
      'an onstart that started a server and ended',
    );
    // The README's worker (`--onstart-cmd "exec node worker.mjs"`) crashed after it was ready: before, it stayed
    // Ready until its last report went stale, every request to it refused, and scale-down stopped the healthy worker.
    assert.equal(
      notReadyReason({ ...base, loaded: true, statusMsg: 'onstart exited with code 3', runningForMs: 1e9 }),
      "the worker's command exited with code 3",
    );
    assert.equal(notReadyReason({ ...base, status: 'loading', runningForMs: 1e9 }), null);
    assert.equal(notReadyReason({ ...base, status: 'stopping', loaded: true, statusMsg: 'onstart exited with code 143' }), null);
  });
  it('a worker whose command is its server (a code deployment’s bootstrap) is once that exits, ready or not', () => {
    const server = { ...base, loaded: true, commandIsServer: true };
    assert.equal(notReadyReason(server), null);
    assert.match(notReadyReason({ ...server, statusMsg: 'onstart exited with code 3' }) ?? '', /server exited with code 3/);
    assert.match(notReadyReason({ ...server, statusMsg: 'onstart exited with code 0' }) ?? '', /code 0/, 'a server that ends, ends');
    assert.equal(notReadyReason({ ...server, status: 'stopping', statusMsg: 'onstart exited with code 143' }), null);
  });
});
