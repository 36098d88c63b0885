import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingView } from '../../src/control/serverless/routing.js';
import { trafficOver } from '../helpers/traffic.js';

const code = (e: unknown): unknown => (e as { code?: unknown }).code;
/** The view is read (a promise) before a request joins the queue. */
const settle = (): Promise<void> => new Promise((r) => setImmediate(r));

/**
 * An endpoint whose only workergroup was deleted: requests waited the queue's whole timeout for a 504
 * though nothing could ever serve them. They are refused at once, queued ones too, until a workergroup comes.
 */
describe('an endpoint with no workergroup', () => {
  it('refuses a new request at once with NO_WORKERGROUP, counted as rejected', async () => {
    const t = trafficOver({ workers: [], noWorkergroup: true });
    try {
      assert.equal(code(await t.acquire(1, 1).catch((e: unknown) => e)), 'NO_WORKERGROUP');
      assert.equal(t.stats(1).deployment.rejectedExecutionCount, 1);
      assert.equal(t.pending(1).queued, 0, 'nothing waits');
    } finally {
      t.shutdown();
    }
  });

  it('fails what is queued once its last workergroup goes, and takes requests again when one is added', async () => {
    const view: Partial<RoutingView> & { workers: RoutingView['workers'] } = { workers: [] };
    const t = trafficOver(view);
    try {
      const queued = t.acquire(1, 1).catch((e: unknown) => e);
      await settle();
      assert.equal(t.pending(1).queued, 1, 'no worker yet: it waits');
      // The delete is an intent every gateway hears (Traffic.heard): the view is read again.
      Object.assign(view, { noWorkergroup: true });
      await t.heard(1);
      assert.equal(code(await queued), 'NO_WORKERGROUP', 'failed at once, not after the queue timeout');
      // A workergroup is created (an intent too): requests wait for its workers again.
      Object.assign(view, { noWorkergroup: false });
      await t.heard(1);
      const waiting = t.acquire(1, 1);
      await settle();
      assert.equal(t.pending(1).queued, 1);
      view.workers = [{ id: 10, url: 'http://w', perf: 1, working: 0, reportedAt: 0, signedBy: null }];
      t.invalidate(1);
      (await waiting).release();
    } finally {
      t.shutdown();
    }
  });
});
