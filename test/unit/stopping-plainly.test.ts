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
  it('an endpoint this gateway has not read: false', () => {
    const t = closedEndpoint({});
    assert.equal(t.stoppingPlainly(7), false);
    t.shutdown();
  });
});
