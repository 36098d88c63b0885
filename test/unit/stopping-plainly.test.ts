import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingView } from '../../src/control/serverless/routing.js';
import type { Traffic } from '../../src/gateway/traffic.js';
import { trafficOver } from '../helpers/traffic.js';

/** A gateway whose endpoint 1 is closed to new requests as `closedAs` says (read from the directory). */
function closedEndpoint(closedAs: Partial<RoutingView>): Traffic {
  return trafficOver({ accepting: false, ...closedAs }, () => 0);
}

/**
 * A worker failure under a plain stop is answered as the stop's (ENDPOINT_STOPPED): only under a plain stop.
 * A failed endpoint's routing is closed too, but its workers failed: a failure there is not relabelled "stopped".
 */
describe('Traffic.stoppingPlainly', () => {
  for (const [name, closedAs, expected] of [
    ['a plain stop', {}, true],
    ['a drained stop', { draining: true }, false],
    ['a failed endpoint', { failed: true }, false],
    // Elasticsearch's stop waits for what is in flight before its workers stop: a worker that fails then crashed on its own.
    ['an Elasticsearch stop waiting for what is in flight', { rejectQueued: true, stopWaits: true }, false],
    ['an Elasticsearch stop whose workers are asked to stop', { rejectQueued: true }, true],
  ] as const) {
    it(`${name}: ${String(expected)}`, async () => {
      const t = closedEndpoint(closedAs);
      try {
        const refused = await t.acquire(1, 1).catch((e: unknown) => e);
        assert.equal((refused as { code?: string }).code, 'ENDPOINT_STOPPED', 'the view was read: routing is closed');
        assert.equal(t.stoppingPlainly(1), expected);
      } finally {
        t.shutdown();
      }
    });
  }
  it('closed here: false while the stop waits for what is in flight, true once its workers are asked to stop', () => {
    const t = trafficOver({}, () => 0);
    try {
      t.close(1, { drain: false, rejectQueued: true, waits: true });
      assert.equal(t.stoppingPlainly(1), false, 'a worker failing during the wait is WORKER_FAILED');
      // What the stop's pass does before it asks the workers to stop (endpoint-stop-pass.ts).
      t.close(1, { drain: false, rejectQueued: true });
      assert.equal(t.stoppingPlainly(1), true);
      t.close(2, { drain: true, waits: true });
      assert.equal(t.stoppingPlainly(2), false, 'a drain');
      t.close(3, { drain: false });
      assert.equal(t.stoppingPlainly(3), true, "a plain stop (Vast's, without finish_pending_work)");
    } finally {
      t.shutdown();
    }
  });
  it('an endpoint this gateway has not read: false', () => {
    const t = closedEndpoint({});
    assert.equal(t.stoppingPlainly(7), false);
    t.shutdown();
  });
});
