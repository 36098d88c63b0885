import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { initialStopPhase, isDraining, type EndpointStopPhase } from '../../src/domain/serverless/lifecycle.js';
import {
  decideStop,
  STOP_SETTLE_MS,
  stopStatusMsg,
  type HeldRequests,
  type StopSituation,
  type StopStep,
  type StopWorker,
} from '../../src/domain/serverless/stop.js';
import { checkBulkIds, MAX_BULK_ITEMS } from '../../src/control/bulk.js';
import { compareAndSet, GENERATION_MOVED, MAX_CAS_ATTEMPTS } from '../../src/control/cas.js';
import { Traffic } from '../../src/gateway/traffic.js';
import { NO_LIMITS } from '../../src/domain/serverless/limits.js';
import type { RoutingView } from '../../src/control/serverless/routing.js';

const T0 = 1_000_000;
const DRAIN_MS = 10_000;
const WORKERS_MS = 5_000;
const NONE: HeldRequests = { queued: 0, inFlight: 0, elsewhere: 0, atWorkers: 0 };
const running = (id: number): StopWorker => ({ id, target: 'running', status: 'running', statusMsg: null, busy: false });
const stopping = (id: number): StopWorker => ({ id, target: 'stopped', status: 'stopping', statusMsg: null, busy: false });
const at = (id: number, status: StopWorker['status'], statusMsg: string | null = null): StopWorker => ({
  id,
  target: 'stopped',
  status,
  statusMsg,
  busy: false,
});

function situation(phase: EndpointStopPhase, o: Partial<StopSituation> = {}): StopSituation {
  return {
    phase,
    drain: true,
    requestedAt: T0,
    drainDeadline: T0 + DRAIN_MS,
    workersDeadline: phase === 'stopping_workers' ? T0 + 3_000 + WORKERS_MS : null,
    workersTimeoutMs: WORKERS_MS,
    held: NONE,
    workers: [],
    now: T0 + 3_000,
    ...o,
  };
}

interface Case {
  readonly name: string;
  readonly in: StopSituation;
  readonly want: Partial<StopStep>;
}

const settling = T0 + STOP_SETTLE_MS - 1;
const CASES: readonly Case[] = [
  // closing
  {
    name: 'closing, no drain, no workers: stopped at once',
    in: situation('closing', { drain: false, held: { ...NONE, queued: 3 } }),
    want: { next: 'stopped', failHeld: false },
  },
  {
    name: 'closing, no drain: workers are asked to stop and get their deadline',
    in: situation('closing', { drain: false, workers: [running(1), running(2)] }),
    want: { next: 'stopping_workers', stopWorkers: [1, 2], workersDeadline: T0 + 3_000 + WORKERS_MS, moving: [1, 2] },
  },
  { name: 'closing, drain, settling with nothing held: waits', in: situation('closing', { now: settling }), want: { next: 'closing', stopWorkers: [] } },
  {
    name: 'closing, drain, settling with requests held: waits',
    in: situation('closing', { now: settling, held: { ...NONE, queued: 1 } }),
    want: { next: 'closing' },
  },
  {
    name: 'closing, drain, settled with requests held here: draining',
    in: situation('closing', { held: { ...NONE, inFlight: 2 } }),
    want: { next: 'draining' },
  },
  {
    name: 'closing, drain, every gateway published since the stop, nothing held: workers stop before the settle time',
    in: situation('closing', { now: T0 + 1, held: { ...NONE, settled: true }, workers: [running(1)] }),
    want: { next: 'stopping_workers', stopWorkers: [1] },
  },
  {
    name: 'closing, drain, every gateway published since the stop, requests held: draining before the settle time',
    in: situation('closing', { now: T0 + 1, held: { ...NONE, inFlight: 1, settled: true } }),
    want: { next: 'draining', stopWorkers: [] },
  },
  { name: 'closing, drain, held at another replica: draining', in: situation('closing', { held: { ...NONE, elsewhere: 4 } }), want: { next: 'draining' } },
  { name: 'closing, drain, workers report requests: draining', in: situation('closing', { held: { ...NONE, atWorkers: 1 } }), want: { next: 'draining' } },
  {
    name: 'closing, drain, settled and nothing held: workers stop',
    in: situation('closing', { workers: [running(1)] }),
    want: { next: 'stopping_workers', failHeld: false, stopWorkers: [1], workersDeadline: T0 + 3_000 + WORKERS_MS },
  },
  {
    name: 'closing, drain past its deadline with requests held: fail them, workers stop',
    in: situation('closing', { now: T0 + DRAIN_MS, held: { ...NONE, queued: 1, inFlight: 2 }, workers: [running(1)] }),
    want: { next: 'stopping_workers', failHeld: true, stopWorkers: [1], workersDeadline: T0 + DRAIN_MS + WORKERS_MS },
  },
  {
    name: 'closing, timeout 0 and nothing held: drained, nothing to fail',
    in: situation('closing', { now: T0, drainDeadline: T0 }),
    want: { next: 'stopped', failHeld: false },
  },
  // draining
  {
    name: 'draining, requests held before the deadline: waits',
    in: situation('draining', { held: { ...NONE, queued: 2 } }),
    want: { next: 'draining', workersDeadline: null },
  },
  { name: 'draining, nothing held: no workers, stopped', in: situation('draining'), want: { next: 'stopped', failHeld: false } },
  {
    name: 'draining, held at the deadline exactly: timed out',
    in: situation('draining', { now: T0 + DRAIN_MS, held: { ...NONE, elsewhere: 1 } }),
    want: { next: 'stopped', failHeld: true, workersDeadline: T0 + DRAIN_MS + WORKERS_MS },
  },
  {
    name: 'draining never settles again (settle belongs to closing)',
    in: situation('draining', { now: settling, workers: [stopping(1)] }),
    want: { next: 'stopping_workers', failHeld: false },
  },
  // stopping_workers
  {
    name: 'stopping_workers, workers still moving before their deadline: waits, deadline kept',
    in: situation('stopping_workers', { workers: [stopping(1), at(2, 'stopped')], now: T0 + 4_000 }),
    want: { next: 'stopping_workers', moving: [1], stopWorkers: [], workersDeadline: T0 + 3_000 + WORKERS_MS },
  },
  {
    name: 'stopping_workers, a worker still running is asked again',
    in: situation('stopping_workers', { workers: [running(3)] }),
    want: { next: 'stopping_workers', stopWorkers: [3] },
  },
  {
    name: 'stopping_workers, workers moving past their deadline: failed, naming them',
    in: situation('stopping_workers', { workers: [stopping(1), stopping(2)], now: T0 + 3_000 + WORKERS_MS + 1 }),
    want: { next: 'failed', reason: 'workers 1, 2 did not stop within 8s' },
  },
  {
    name: 'stopping_workers, all at rest (stopped, exited): stopped',
    in: situation('stopping_workers', { workers: [at(1, 'stopped'), at(2, 'exited')] }),
    want: { next: 'stopped' },
  },
  {
    name: 'stopping_workers, a worker stop failed: failed with its reason',
    in: situation('stopping_workers', { workers: [at(1, 'stopped'), at(2, 'failed', 'stop did not complete')] }),
    want: { next: 'failed', reason: 'worker 2: stop did not complete' },
  },
  {
    name: 'stopping_workers ignores held requests (the drain is over)',
    in: situation('stopping_workers', { held: { ...NONE, queued: 5 }, workers: [at(1, 'stopped')] }),
    want: { next: 'stopped', failHeld: false },
  },
  {
    name: 'a stopped worker asked to start just before: asked to stop and waited for, not taken as at rest',
    in: situation('closing', { drain: false, workers: [{ ...at(1, 'stopped'), target: 'running' }, at(2, 'stopped')] }),
    want: { next: 'stopping_workers', stopWorkers: [1], moving: [1] },
  },
  {
    name: 'stopping_workers, a stopped worker the reconciler holds (a start it took before the stop) is waited for',
    in: situation('stopping_workers', { workers: [{ ...at(1, 'stopped'), busy: true }, at(2, 'stopped')] }),
    want: { next: 'stopping_workers', moving: [1], stopWorkers: [] },
  },
  {
    name: 'closing: a failed worker asked to stop in this very step is waited for (the stop asked may end it)',
    in: situation('closing', { drain: false, workers: [{ ...at(1, 'failed', 'outbid stop failed'), target: 'running' }] }),
    want: { next: 'stopping_workers', stopWorkers: [1], moving: [1] },
  },
  {
    name: 'stopping_workers, a failed worker the reconciler holds: the stop gives up on it as before',
    in: situation('stopping_workers', { workers: [{ ...at(1, 'failed', 'stop did not complete'), busy: true }] }),
    want: { next: 'failed', reason: 'worker 1: stop did not complete' },
  },
  {
    name: 'stopping_workers without a deadline (a stop from before the upgrade): it is set now',
    in: situation('stopping_workers', { workersDeadline: null, workers: [stopping(1)] }),
    want: { next: 'stopping_workers', workersDeadline: T0 + 3_000 + WORKERS_MS },
  },
];

describe('endpoint stop phases (table)', () => {
  for (const c of CASES) {
    it(c.name, () => {
      const got = decideStop(c.in);
      for (const [k, v] of Object.entries(c.want)) assert.deepEqual(got[k as keyof StopStep], v, `${k}: ${JSON.stringify(got)}`);
    });
  }

  it('covers every phase', () => {
    const phases = new Set(CASES.map((c) => c.in.phase));
    assert.deepEqual([...phases].sort(), ['closing', 'draining', 'stopping_workers']);
  });
});

describe('endpoint stop status messages and predicates', () => {
  const step = (o: Partial<StopStep>): StopStep => ({
    next: 'stopped',
    failHeld: false,
    stopWorkers: [],
    workersDeadline: null,
    moving: [],
    reason: null,
    ...o,
  });
  const quiet = { drainTimedOut: false, failed: 0 };

  it('derives the texts the Vast API shows from the step and the counts', () => {
    assert.equal(
      stopStatusMsg(step({ next: 'draining' }), { queued: 1, inFlight: 0, elsewhere: 2, atWorkers: 3 }, quiet),
      'draining: 1 queued, 3 in flight, 2 at other replicas',
    );
    assert.equal(stopStatusMsg(step({ next: 'closing' }), NONE, quiet), 'draining: 0 queued, 0 in flight');
    assert.equal(stopStatusMsg(step({ next: 'stopping_workers', moving: [1, 2] }), NONE, quiet), 'stopping 2 worker(s)');
    assert.equal(
      stopStatusMsg(step({ next: 'stopping_workers', moving: [1] }), NONE, { drainTimedOut: true, failed: 3 }),
      'drain timed out: 3 request(s) failed',
    );
    assert.equal(stopStatusMsg(step({ next: 'stopped' }), NONE, { drainTimedOut: true, failed: 3 }), 'drain timed out: 3 request(s) failed');
    assert.equal(stopStatusMsg(step({ next: 'stopped' }), NONE, quiet), null);
    assert.equal(stopStatusMsg(step({ next: 'failed', reason: 'worker 2: x' }), NONE, { drainTimedOut: true, failed: 1 }), 'worker 2: x');
  });

  it('knows which states drain, which phase a write begins, and where a stop ends', () => {
    assert.equal(isDraining({ status: 'stopping', stopDrain: true, stopPhase: 'closing' }), true);
    assert.equal(isDraining({ status: 'stopping', stopDrain: true, stopPhase: 'draining' }), true);
    assert.equal(isDraining({ status: 'stopping', stopDrain: true, stopPhase: 'stopping_workers' }), false, 'queued requests are refused once workers stop');
    assert.equal(isDraining({ status: 'stopping', stopDrain: false, stopPhase: 'closing' }), false);
    assert.equal(isDraining({ status: 'stopped', stopDrain: true, stopPhase: null }), false);
    assert.equal(initialStopPhase({ target: 'stopped', status: 'stopping' }), 'closing');
    assert.equal(initialStopPhase({ target: 'running', status: 'pending' }), null);
    assert.equal(initialStopPhase({ target: 'deleted', status: 'deleting' }), null);
  });
});

describe('compare-and-set and bulk checks shared by instances and endpoints', () => {
  it('retries while the generation moved, then gives up with the conflict error', async () => {
    let n = 0;
    assert.equal(
      await compareAndSet(
        async () => (++n < 3 ? GENERATION_MOVED : 'done'),
        () => new GantryError('ILLEGAL_TRANSITION', 'busy'),
      ),
      'done',
    );
    assert.equal(n, 3);
    n = 0;
    await assert.rejects(
      compareAndSet(
        async () => {
          n++;
          return GENERATION_MOVED;
        },
        () => new GantryError('ILLEGAL_TRANSITION', 'busy'),
      ),
      (e: unknown) => e instanceof GantryError && e.code === 'ILLEGAL_TRANSITION',
    );
    assert.equal(n, MAX_CAS_ATTEMPTS);
  });

  it('refuses empty, oversized, duplicate and malformed id lists with INVALID_ARGUMENT', () => {
    const bad = (ids: number[]): void =>
      assert.throws(
        () => checkBulkIds(ids, 'endpoint'),
        (e: unknown) => e instanceof GantryError && e.code === 'INVALID_ARGUMENT',
      );
    bad([]);
    bad(Array.from({ length: MAX_BULK_ITEMS + 1 }, (_, i) => i + 1));
    bad([1, 2, 1]);
    bad([1, 2.5]);
    bad([0]);
    bad([Number.NaN]);
    checkBulkIds(
      Array.from({ length: MAX_BULK_ITEMS }, (_, i) => i + 1),
      'endpoint',
    );
  });
});

describe('gateway counts for a stop', () => {
  it('counts answers and refusals after the stop, not requests the drain deadline failed, and reports them once', async () => {
    const counted: number[][] = [];
    const view = (endpointId: number) => ({
      endpointId,
      accepting: true,
      draining: false,
      // A busy worker is full at once: further requests queue.
      maxQueueTimeS: 0,
      workers: [{ id: 10, url: 'http://w', perf: 1, working: 0, reportedAt: 0, signedBy: null }],
      phases: {},
      deleted: false,
      limits: NO_LIMITS,
      rejectQueued: false,
    });
    const t = new Traffic({
      directory: (id) => Promise.resolve(view(id)),
      touch: () => Promise.resolve(),
      now: () => Date.now(),
      directoryMs: 60_000,
      queueTimeoutMs: 60_000,
      shared: {
        replica: 'r',
        publish: () => Promise.resolve(),
        elsewhere: () => Promise.resolve(0),
        counted: (id, answered, refused) => {
          counted.push([id, answered, refused]);
          return Promise.resolve();
        },
      },
    });
    const settled = (p: Promise<unknown>) =>
      p.then(
        () => 'ok',
        (e: unknown) => (e instanceof GantryError ? e.code : 'other'),
      );
    try {
      // Endpoint 1: a drain that runs out of time; the loop fails and counts these, the gateway does not.
      const a1 = await t.acquire(1, 1);
      const queued = [settled(t.acquire(1, 1)), settled(t.acquire(1, 1))];
      await new Promise((r) => setImmediate(r));
      t.close(1, { drain: true });
      assert.deepEqual(t.failPending(1, 'drain ran out of time'), { failed: 3, rejected: 0 });
      assert.deepEqual(await Promise.all(queued), ['ENDPOINT_STOPPED', 'ENDPOINT_STOPPED']);
      assert.equal(a1.signal.aborted, true);
      a1.release(true);
      assert.equal(t.stats(1).deployment.timeoutCount, 2);
      // Endpoint 4: the same for Elasticsearch's drain: what is queued is rejected (429), the request in flight stopped.
      const d1 = await t.acquire(4, 1);
      const rejected = [settled(t.acquire(4, 1)), settled(t.acquire(4, 1))];
      await new Promise((r) => setImmediate(r));
      t.close(4, { drain: true, rejectQueued: true });
      assert.deepEqual(t.failPending(4, 'drain ran out of time', true), { failed: 3, rejected: 2 });
      assert.deepEqual(await Promise.all(rejected), ['REQUEST_REJECTED_BY_STOP', 'REQUEST_REJECTED_BY_STOP']);
      assert.equal(d1.signal.aborted, true);
      d1.release(true);
      assert.deepEqual([t.stats(4).deployment.rejectedExecutionCount, t.stats(4).deployment.timeoutCount], [2, 0]);
      // Endpoint 2: a stop without drain refuses the queue; the request in flight is answered.
      const b1 = await t.acquire(2, 1);
      const refused = settled(t.acquire(2, 1));
      await new Promise((r) => setImmediate(r));
      t.close(2, { drain: false });
      assert.equal(await refused, 'ENDPOINT_STOPPED');
      b1.release(true);
      // Endpoint 3: answered before any stop: nothing to count.
      (await t.acquire(3, 1)).release(true);
      await new Promise((r) => setTimeout(r, 1_200));
      assert.deepEqual(counted, [[2, 1, 1]]);
    } finally {
      t.shutdown();
    }
  });
});

describe('gateway views and stops', () => {
  it('a view read from the store before a stop never reopens the endpoint after it', async () => {
    let answer: (v: RoutingView) => void = () => undefined;
    const t = new Traffic({
      // The store answers late: the stop lands while this read is on its way.
      directory: (endpointId) =>
        new Promise<RoutingView>((resolve) => {
          answer = resolve;
          void endpointId;
        }),
      touch: () => Promise.resolve(),
      now: () => Date.now(),
      directoryMs: 60_000,
      queueTimeoutMs: 60_000,
      shared: { replica: 'r', publish: () => Promise.resolve(), elsewhere: () => Promise.resolve(0), counted: () => Promise.resolve() },
    });
    try {
      const before = t.acquire(7, 1).then(
        () => 'ok',
        (e: unknown) => (e instanceof GantryError ? e.code : 'other'),
      );
      await new Promise((r) => setImmediate(r));
      t.close(7, { drain: false });
      answer({
        endpointId: 7,
        accepting: true,
        draining: false,
        maxQueueTimeS: 0,
        workers: [{ id: 1, url: 'http://w', perf: 1, working: 0, reportedAt: 0, signedBy: null }],
        phases: {},
        deleted: false,
        limits: NO_LIMITS,
        rejectQueued: false,
      });
      assert.equal(await before, 'ENDPOINT_STOPPED');
      await assert.rejects(t.acquire(7, 1), (e: unknown) => e instanceof GantryError && e.code === 'ENDPOINT_STOPPED');
    } finally {
      t.shutdown();
    }
  });
});
