import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { setImmediate as tick } from 'node:timers/promises';
import type { RoutableWorker, RoutingView } from '../../src/control/serverless/routing.js';
import { Traffic } from '../../src/gateway/traffic.js';
import { until } from '../helpers/serverless.js';
import { acceptingView, trafficOver } from '../helpers/traffic.js';

const ANSWERED = { kind: 'answered', ms: 1 } as const;

/** Whether the traffic still holds a record of endpoint 1 (its counters start when it saw its first request). */
const remembered = (t: ReturnType<typeof trafficOver>): boolean => t.stats(1).deployment.startTime !== null;

/** A gateway kept a traffic record (counters, load, per-worker tallies) for every endpoint it ever routed to, deleted ones too. */
describe('the traffic of a deleted endpoint', () => {
  it('is forgotten once the gateway reads that it was deleted', async () => {
    const view: Partial<RoutingView> = {};
    const t = trafficOver(view);
    try {
      (await t.acquire(1, 1)).release(true, ANSWERED);
      assert.equal(t.stats(1).deployment.inferenceCount, 1);
      Object.assign(view, { accepting: false, deleted: true });
      await t.heard(1);
      await tick();
      assert.equal(remembered(t), false);
    } finally {
      t.shutdown();
    }
  });

  it('is kept while a request of it is in flight, and forgotten when that one ends', async () => {
    const view: Partial<RoutingView> = {};
    const t = trafficOver(view);
    try {
      const a = await t.acquire(1, 1);
      Object.assign(view, { accepting: false, deleted: true });
      await t.heard(1);
      await tick();
      assert.equal(remembered(t), true, 'its request still counts');
      assert.equal(t.pending(1).inFlight, 1);
      a.release(true, ANSWERED);
      await tick();
      assert.equal(remembered(t), false);
    } finally {
      t.shutdown();
    }
  });

  it('a late request is refused and leaves nothing behind', async () => {
    const t = trafficOver({ accepting: false, deleted: true });
    try {
      await assert.rejects(t.acquire(1, 1), { code: 'ENDPOINT_STOPPED' });
      await tick();
      assert.equal(remembered(t), false);
    } finally {
      t.shutdown();
    }
  });

  it('a stopped endpoint is remembered: its counters outlive the stop', async () => {
    const view: Partial<RoutingView> = {};
    const t = trafficOver(view);
    try {
      (await t.acquire(1, 1)).release(true, ANSWERED);
      Object.assign(view, { accepting: false });
      await t.heard(1);
      await tick();
      assert.equal(t.stats(1).deployment.inferenceCount, 1);
    } finally {
      t.shutdown();
    }
  });

  it('is kept while its counts cannot be written, and forgotten once they are', async () => {
    let down = true;
    let written = 0;
    const t = new Traffic({
      directory: (endpointId) => Promise.resolve({ ...acceptingView(endpointId), ...state }),
      touch: () => Promise.resolve(),
      now: () => Date.now(),
      directoryMs: 60_000,
      queueTimeoutMs: 20_000,
      shared: {
        replica: 'r',
        publish: () => Promise.resolve(),
        elsewhere: () => Promise.resolve(0),
        counted: (_id, answered) => (down ? Promise.reject(new Error('store away')) : Promise.resolve(void (written += answered))),
      },
    });
    const state: Partial<RoutingView> = {};
    try {
      const a = await t.acquire(1, 1);
      Object.assign(state, { accepting: false });
      await t.heard(1); // a stop: what is answered from now on is counted for it
      a.release(true, ANSWERED);
      Object.assign(state, { deleted: true });
      await t.heard(1);
      await tick();
      assert.equal(remembered(t), true, 'its count is not written yet');
      down = false;
      await until('forgotten once written', async () => !remembered(t), 10_000);
      assert.equal(written, 1);
    } finally {
      t.shutdown();
    }
  });

  it("forgets a worker's counters once it is out of the worker list and took no request for an hour", async () => {
    let now = 1_000_000;
    const worker = (id: number): RoutableWorker => ({ id, url: `http://w${id}`, perf: 1, working: 0, reportedAt: 0, signedBy: null });
    const view = { workers: [worker(10)] };
    const t = trafficOver(view, () => now);
    const served = async (): Promise<void> => (await t.acquire(1, 1)).release(true, ANSWERED);
    try {
      await served();
      assert.deepEqual([...t.stats(1).workers.keys()], [10]);
      // Scaled: worker 10 went, 11 came (autoscaling makes new workers all the time).
      view.workers = [worker(11)];
      now += 60_000;
      t.invalidate(1);
      await served();
      assert.deepEqual([...t.stats(1).workers.keys()].sort(), [10, 11], 'within the hour: kept');
      now += 2 * 3_600_000;
      t.invalidate(1);
      await served();
      assert.deepEqual([...t.stats(1).workers.keys()], [11]);
      assert.equal(t.stats(1).deployment.inferenceCount, 3, "the endpoint's own counters stay");
    } finally {
      t.shutdown();
    }
  });
});
