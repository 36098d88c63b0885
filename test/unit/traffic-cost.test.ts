import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { NO_LIMITS } from '../../src/domain/serverless/limits.js';
import { Abort } from '../../src/gateway/abort.js';
import { accountedCost, MAX_ACCOUNTED_COST } from '../../src/gateway/endpoint-traffic.js';
import type { Traffic } from '../../src/gateway/traffic.js';
import { trafficOver } from '../helpers/traffic.js';

const BAD = [NaN, Infinity, -Infinity, -1, -0, 1e400, Number.MAX_VALUE];

/** A gateway whose one endpoint has one worker that takes a request of any finite cost (the clock is the test's). */
function oneWorker(now: () => number, limits = NO_LIMITS): Traffic {
  // Large enough that a busy worker takes another request of any finite cost; a request that queues
  // instead of being served fails the test with QUEUE_TIMEOUT.
  return trafficOver({ maxQueueTimeS: 1e15, limits }, now);
}

describe('request costs in the traffic accounting', () => {
  it('are always finite and not negative', () => {
    for (const c of BAD) {
      const a = accountedCost(c);
      assert.ok(Number.isFinite(a) && a >= 0 && a <= MAX_ACCOUNTED_COST, `${c} → ${a}`);
    }
    assert.equal(accountedCost(NaN), 1);
    assert.equal(accountedCost(-1), 0);
    assert.equal(accountedCost(2.5), 2.5);
  });

  it('load samples: whole seconds, and the second still filling once a quarter of it passed (a rate once enough arrived)', async () => {
    let now = 1_000_000;
    const t = oneWorker(() => now);
    try {
      for (let i = 0; i < 3; i++) (await t.acquire(1, 2)).release(true); // 6 units in second 1000
      now = 1_001_100;
      (await t.acquire(1, 2)).release(true);
      assert.deepEqual(t.loadSamples(1), [{ at: 1_000_000, load: 6 }], 'a tenth of the second: not yet a sample');
      now = 1_001_400;
      assert.deepEqual(
        t.loadSamples(1),
        [
          { at: 1_000_000, load: 6 },
          { at: 1_001_000, load: 2 },
        ],
        'a few arrivals: their count, a lower bound (times 2.5 would be noise)',
      );
      for (let i = 0; i < 4; i++) (await t.acquire(1, 2)).release(true); // 10 units so far, in 0.4 s
      assert.deepEqual(t.loadSamples(1).at(-1), { at: 1_001_000, load: 25 }, 'enough arrivals: a rate');
    } finally {
      t.shutdown();
    }
  });

  it('a bad cost fed to the gateway never poisons a worker total: the worker keeps taking requests', async () => {
    let now = 1_000_000;
    const t = oneWorker(() => now);
    const total = (): number | undefined => t.workerLoad(1).get(10)?.cost;
    try {
      for (const bad of BAD) {
        const held = await t.acquire(1, 1);
        const b = await t.acquire(1, bad);
        const during = total();
        assert.ok(during !== undefined && Number.isFinite(during) && during >= 0, `cost ${bad}: total ${during}`);
        b.release(true);
        assert.equal(total(), 1, `cost ${bad}: the total after its release`);
        const c = await t.acquire(1, 1);
        assert.equal(c.worker.id, 10);
        c.release(true);
        held.release(true);
        assert.equal(total(), undefined);
        // /route/ hand-outs count against the worker too.
        const r = await t.route(1, bad, `idx-${bad}`);
        assert.equal(r.worker?.id, 10);
        const next = await t.route(1, 1, `next-${bad}`);
        assert.equal(next.worker?.id, 10, `cost ${bad}: a /route/ after it finds the worker`);
      }
      now += 5_000;
      for (const s of t.loadSamples(1)) assert.ok(Number.isFinite(s.load) && s.load >= 0, `load sample ${s.load}`);
    } catch (err) {
      if (err instanceof GantryError) assert.fail(`${err.code}: ${err.message}`);
      throw err;
    } finally {
      t.shutdown();
    }
  });
});

/** A gateway whose endpoints have no worker yet: every request waits in the queue. */
function noWorker(): Traffic {
  return trafficOver({ workers: [] });
}

describe('traffic at shutdown', () => {
  it('fails a request queued for a worker with SHUTTING_DOWN: the endpoint is not stopped, and a client may try again', async () => {
    const t = noWorker();
    const queued = t.acquire(1, 1);
    await new Promise((r) => setTimeout(r, 20));
    t.shutdown();
    await assert.rejects(queued, (e: unknown) => e instanceof GantryError && e.code === 'SHUTTING_DOWN');
  });
});

describe('a caller that leaves while its request is queued', () => {
  it('gives up its place at once with CALLER_LEFT, counted neither as timed out nor as refused; the others keep theirs', async () => {
    const t = noWorker();
    try {
      const [gone, stays] = [new Abort(), new Abort()];
      const left = t.acquire(1, 1, undefined, gone);
      const waits = t.acquire(1, 1, undefined, stays);
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(t.pending(1).queued, 2);
      gone.abort(null);
      await assert.rejects(left, (e: unknown) => e instanceof GantryError && e.code === 'CALLER_LEFT');
      assert.equal(t.pending(1).queued, 1, 'its place is free at once, not when a worker has room');
      const c = t.stats(1).deployment;
      assert.deepEqual([c.timeoutCount, c.rejectedExecutionCount, c.errorCount], [0, 0, 0]);
      assert.equal(gone.listenerCount('abort') + stays.listenerCount('abort'), 1, 'only the waiting one still listens');
      // Already gone before it was queued: refused at once, never queued.
      await assert.rejects(t.acquire(1, 1, undefined, gone), (e: unknown) => e instanceof GantryError && e.code === 'CALLER_LEFT');
      assert.equal(t.pending(1).queued, 1);
      t.shutdown();
      await assert.rejects(waits, (e: unknown) => e instanceof GantryError && e.code === 'SHUTTING_DOWN');
      assert.equal(stays.listenerCount('abort'), 0, 'a request that stopped waiting stops listening');
    } finally {
      t.shutdown();
    }
  });

  it('gets no worker once gone, even one with room; a request handed a worker from the queue stops listening', async () => {
    const t = oneWorker(() => Date.now(), { maxConcurrentPerWorker: 1, queueCapacity: 0 });
    try {
      const gone = new Abort();
      gone.abort(null);
      await assert.rejects(t.acquire(1, 1, undefined, gone), (e: unknown) => e instanceof GantryError && e.code === 'CALLER_LEFT');
      assert.deepEqual(t.pending(1), { queued: 0, inFlight: 0, oldestQueuedMs: 0 }, 'nothing held for it');
      const caller = new Abort();
      const first = await t.acquire(1, 1, undefined, caller);
      const second = t.acquire(1, 1, undefined, caller); // queued: the worker takes one at a time
      await new Promise((r) => setTimeout(r, 20));
      assert.equal(caller.listenerCount('abort'), 1);
      first.release(true);
      (await second).release(true);
      assert.equal(caller.listenerCount('abort'), 0, 'no listener left behind per request');
    } finally {
      t.shutdown();
    }
  });
});
