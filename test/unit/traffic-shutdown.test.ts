import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { RoutingView } from '../../src/control/serverless/routing.js';
import { NO_LIMITS } from '../../src/domain/serverless/limits.js';
import { Traffic } from '../../src/gateway/traffic.js';

/** An endpoint with no worker (a request waits in its queue), whose view the test hands out when it likes. */
function noWorkers(): { traffic: Traffic; answer: () => void; asked: () => number } {
  const waiting: (() => void)[] = [];
  let asked = 0;
  const view = (endpointId: number): RoutingView => ({
    endpointId,
    accepting: true,
    draining: false,
    maxQueueTimeS: 30,
    workers: [],
    phases: {},
    deleted: false,
    limits: NO_LIMITS,
    rejectQueued: false,
  });
  const traffic = new Traffic({
    directory: (endpointId) => {
      asked++;
      return new Promise((r) => waiting.push(() => r(view(endpointId))));
    },
    touch: () => Promise.resolve(),
    now: () => Date.now(),
    directoryMs: 60_000,
    queueTimeoutMs: 20_000,
    shared: { replica: 'r', publish: () => Promise.resolve(), elsewhere: () => Promise.resolve(0), counted: () => Promise.resolve() },
  });
  return { traffic, answer: () => waiting.splice(0).forEach((w) => w()), asked: () => asked };
}

/**
 * The gateway shuts down before the HTTP server stops taking requests: one that reads its endpoint as the
 * shutdown comes, or arrives after it, was queued behind the queue's timer (20 s here, 60 s by default), and
 * the server's close waited for it.
 */
describe('requests at a gateway that shut down', () => {
  it('one whose endpoint was being read, and one after: refused at once (SHUTTING_DOWN), none queued', async () => {
    const { traffic, answer, asked } = noWorkers();
    const reading = traffic.acquire(1, 1);
    while (asked() === 0) await new Promise((r) => setImmediate(r));
    traffic.shutdown();
    answer();
    await assert.rejects(reading, { code: 'SHUTTING_DOWN' });
    const after = traffic.acquire(1, 1);
    answer();
    await assert.rejects(after, { code: 'SHUTTING_DOWN' });
    assert.equal(traffic.tryAcquire(1, 1), null);
  });
});
