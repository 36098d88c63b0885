import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointTraffic } from '../../src/gateway/endpoint-traffic.js';
import { trafficOver } from '../helpers/traffic.js';

describe("a gateway's fences around workers", () => {
  it('holds a fence until its time, lifts it on demand, and drops the ones that ran out', () => {
    let now = 1_000;
    const t = new EndpointTraffic(() => now);
    t.fence(1, 5_000);
    t.fence(2, 2_000);
    assert.deepEqual([...t.suspect.keys()], [1, 2]);
    t.fence(1, 0);
    assert.deepEqual([...t.suspect.keys()], [2], 'lifted');
    now = 3_000;
    t.fence(3, 4_000);
    assert.deepEqual([...t.suspect.keys()], [3], "worker 2's fence ran out and is gone");
  });

  it('holds a fence set before this gateway routed any request of the endpoint (a drain fences first)', async () => {
    const now = 1_000_000;
    const t = trafficOver({ workers: [10, 11].map((id) => ({ id, url: `http://w${id}`, perf: 1, working: 0, reportedAt: 0, signedBy: null })) }, () => now);
    try {
      t.fence(1, 10, now + 60_000);
      for (let i = 0; i < 4; i++) {
        const a = await t.acquire(1, 1);
        assert.equal(a.worker.id, 11, 'never the fenced worker');
        a.release();
      }
    } finally {
      t.shutdown();
    }
  });
});
