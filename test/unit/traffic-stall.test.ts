import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutableWorker } from '../../src/control/serverless/routing.js';
import { trafficOver } from '../helpers/traffic.js';

/** Past the view's first read plus its cache time (trafficOver's directoryMs): `invalidate` makes the next acquire read it again. */
const T = 1_000_000;
const worker = (id: number, reportedAt: number): RoutableWorker => ({ id, url: `http://w${id}`, perf: 1, working: 0, reportedAt, signedBy: null });

/**
 * A frozen worker (process alive, event loop stuck) kept taking requests, each ending in WORKER_TIMEOUT,
 * until its report went stale (30 s): after a timeout it gets none until it reports again.
 */
describe('a worker a request timed out at', () => {
  it('gets no new request until it sends a report made after the timeout', async () => {
    let now = T + 1_000;
    const view = { workers: [worker(10, T + 900), worker(11, T + 900)] };
    const t = trafficOver(view, () => now);
    try {
      const first = await t.acquire(1, 1);
      assert.equal(first.worker.id, 10, 'both idle: the first');
      now = T + 2_000;
      t.stall(1, 10);
      first.release(false, { kind: 'timeout' });
      assert.deepEqual([...t.stalledWorkers(1)], [[10, T + 2_000]], 'the autoscaler sees it (serverless-loop.ts)');
      for (let i = 0; i < 3; i++) {
        const a = await t.acquire(1, 1);
        assert.equal(a.worker.id, 11, 'routed around the stalled worker');
        a.release(true, { kind: 'answered', ms: 1 });
      }
      // A report made before the timeout (read late) does not lift it.
      view.workers = [worker(10, T + 1_999), worker(11, T + 2_500)];
      t.invalidate(1);
      now = T + 3_000;
      const still = await t.acquire(1, 1);
      assert.equal(still.worker.id, 11);
      still.release(true, { kind: 'answered', ms: 1 });
      // Its next report: back in the rotation.
      view.workers = [worker(10, T + 2_600), worker(11, T + 2_500)];
      t.invalidate(1);
      const busy = await t.acquire(1, 1);
      const back = await t.acquire(1, 1);
      assert.deepEqual(new Set([busy.worker.id, back.worker.id]), new Set([10, 11]));
      assert.equal(t.stalledWorkers(1).size, 0);
      busy.release();
      back.release();
    } finally {
      t.shutdown();
    }
  });

  it('a stalled worker gone from the worker list is forgotten', async () => {
    const view = { workers: [worker(10, 0), worker(11, 0)] };
    const t = trafficOver(view, () => 5);
    try {
      t.stall(1, 10);
      view.workers = [worker(11, 0)];
      (await t.acquire(1, 1)).release();
      assert.equal(t.stalledWorkers(1).size, 0);
    } finally {
      t.shutdown();
    }
  });
});
