import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Traffic } from '../../src/gateway/traffic.js';
import { NO_LIMITS } from '../../src/domain/serverless/limits.js';
import type { RoutableWorker, RoutingView } from '../../src/control/serverless/routing.js';

const HOUR = 3_600_000;

/** A gateway whose store answers with `view`, recording what it asks for and publishes. */
function gateway(
  view: () => RoutingView,
  directory?: () => Promise<RoutingView>,
): { t: Traffic; demanded: number[]; published: [number, number][]; heard: number[] } {
  const demanded: number[] = [];
  const published: [number, number][] = [];
  const heard: number[] = [];
  const t = new Traffic({
    directory: directory ?? (() => Promise.resolve(view())),
    touch: () => Promise.resolve(),
    now: () => Date.now(),
    // Nothing is read again by time within the test: every change below comes from a wake-up.
    directoryMs: HOUR,
    queueTimeoutMs: HOUR,
    demand: (id) => demanded.push(id),
    shared: {
      replica: 'r',
      publish: (id, n) => {
        if (id !== 0) published.push([id, n]);
        return Promise.resolve();
      },
      elsewhere: () => Promise.resolve(0),
      counted: () => Promise.resolve(),
      heard: (id) => heard.push(id),
      settled: () => Promise.resolve(true),
    },
  });
  return { t, demanded, published, heard };
}

function viewOf(workers: readonly RoutableWorker[], accepting = true): RoutingView {
  const phases = workers.length > 0 ? { ready: workers.length } : {};
  return { endpointId: 1, accepting, draining: false, maxQueueTimeS: 0, workers, phases, deleted: false, limits: NO_LIMITS, rejectQueued: false };
}

const until = async (what: string, f: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !f(); i++) await new Promise((r) => setTimeout(r, 10));
  assert.ok(f(), what);
};

describe('gateway wake-ups', () => {
  it('a request held without a worker asks for a pass, and a worker that became ready takes it at once', async () => {
    let workers: RoutableWorker[] = [];
    const { t, demanded } = gateway(() => viewOf(workers));
    try {
      assert.deepEqual(t.waiting(), []);
      const held = t.acquire(1, 1);
      const second = t.acquire(1, 1);
      await until('demand told', () => demanded.length > 0);
      assert.deepEqual(demanded, [1], 'once for a burst');
      assert.deepEqual(t.waiting(), [1], 'the loop wakes what this replica holds requests for at each tick');
      workers = [{ id: 5, url: 'http://w', perf: 1, working: 0, reportedAt: 0, signedBy: null }];
      t.invalidate(1); // what a worker's report or a probe does when it is ready
      const a = await held;
      assert.equal(a.worker.id, 5);
      a.release(true);
      (await second).release(true);
      assert.deepEqual(t.waiting(), [], 'none waits');
    } finally {
      t.shutdown();
    }
  });

  it('a request queued behind busy workers asks for a pass too (a load step), once for a burst', async () => {
    const { t, demanded } = gateway(() => viewOf([{ id: 5, url: 'http://w', perf: 1, working: 0, reportedAt: 0, signedBy: null }]));
    try {
      const first = await t.acquire(1, 1);
      assert.deepEqual(demanded, [], 'a worker had room: nothing to ask');
      const queued = [t.acquire(1, 1), t.acquire(1, 1), t.acquire(1, 1)];
      await until('demand told', () => demanded.length > 0);
      assert.deepEqual(demanded, [1], 'once for a burst');
      assert.deepEqual(t.waiting(), [], 'with a worker it does not rest: not woken at each tick');
      first.release(true);
      for (const q of queued) (await q).release(true);
    } finally {
      t.shutdown();
    }
  });

  it('an endpoint with no active worker (only cold or broken ones) waits like one with none; once one starts, it does not', async () => {
    let phases: RoutingView['phases'] = { inactive: 2 };
    const { t, demanded } = gateway(() => ({ ...viewOf([]), phases }));
    try {
      const held = t.acquire(1, 1);
      await until('demand told', () => demanded.length > 0);
      assert.deepEqual(t.waiting(), [1], 'cold workers only: woken at each tick while requests wait');
      phases = { destroying: 1, error: 1 };
      t.invalidate(1);
      await new Promise((r) => setTimeout(r, 50));
      assert.deepEqual(t.waiting(), [1], 'nor does any worker that is not serving or on its way keep it from being woken');
      phases = { inactive: 1, starting: 1 };
      t.invalidate(1);
      await until('the view read again', () => t.waiting().length === 0);
      t.failPending(1, 'the test ends');
      await held.catch(() => undefined);
    } finally {
      t.shutdown();
    }
  });

  it('hearing of a stop publishes what this gateway holds at once, and again when its last request ends', async () => {
    let accepting = true;
    const { t, published, heard } = gateway(() => viewOf([{ id: 5, url: 'http://w', perf: 1, working: 0, reportedAt: 0, signedBy: null }], accepting));
    try {
      const a = await t.acquire(1, 1);
      accepting = false; // the stop, written at some replica
      await t.heard(1);
      assert.deepEqual(published.at(-1), [1, 1]);
      assert.deepEqual(heard, [1]);
      a.release(true);
      await until('the last request reported', () => heard.length === 2);
      assert.deepEqual(published.at(-1), [1, 0]);
      // An endpoint this gateway never served: it holds nothing and says so.
      await t.heard(2);
      assert.deepEqual(published.at(-1), [2, 0]);
    } finally {
      t.shutdown();
    }
  });

  it('a read of the store begun before a stop is not the view a later request gets', async () => {
    // The first read is slow and predates the stop (a worker's report asked for it); later reads see the
    // stop, a drain (so nothing already queued is refused by them: only the view itself may refuse).
    const draining: RoutingView = { ...viewOf([], false), draining: true };
    let answer: (v: RoutingView) => void = () => undefined;
    let reads = 0;
    const slowFirst = (): Promise<RoutingView> => (++reads === 1 ? new Promise<RoutingView>((r) => (answer = r)) : Promise.resolve(draining));
    const { t } = gateway(() => draining, slowFirst);
    const settled = (p: Promise<unknown>): Promise<unknown> => Promise.race([p, new Promise((r) => setTimeout(() => r('still held'), 2000))]);
    try {
      void t.acquire(1, 1).catch(() => undefined);
      t.close(1, { drain: true });
      t.invalidate(1); // a worker reported meanwhile: the next request reads the store again
      const second = t.acquire(1, 1).catch((e: unknown) => e);
      answer(viewOf([], true)); // the old read ends, from before the stop
      assert.equal(((await settled(second)) as { code?: string }).code, 'ENDPOINT_STOPPED', 'refused, not queued as if accepted');
    } finally {
      t.shutdown();
    }
  });
});
