import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ControlContext } from '../../src/control/context.js';
import { beginDrain, drainProgress } from '../../src/control/serverless/worker-drain.js';
import type { WorkerInfo } from '../../src/control/serverless/workers.js';
import type { EndpointRecord, WorkerReport } from '../../src/domain/serverless/records.js';
import { EndpointTraffic } from '../../src/gateway/endpoint-traffic.js';

/**
 * When a drained worker counts as idle. Vast's worker library sends an unchanged report only every
 * ten seconds but lists the requests it finished every second: a drain whose worker's last report
 * came between the fence and the grace waited ten seconds for the next one. The hand-outs of this
 * replica's /route/ that the worker listed finished end that wait; one not listed keeps it. The real
 * path (Vast's library, the gateway, a restart under 20 callers) is vast-code-soft-update's.
 */
function harness() {
  let now = 1_000_000;
  const t = new EndpointTraffic(() => now);
  const silent = { info: () => undefined, warn: () => undefined, child: () => silent };
  const ctx = {
    clock: { now: () => now },
    settings: { stopDrainTimeoutMs: 60_000 },
    log: silent,
    traffic: {
      workerLoad: () => t.busy,
      unfinishedHandOuts: (_ep: number, id: number, since: number) => t.unfinishedSince(id, since, now),
      fence: () => undefined,
      invalidate: () => undefined,
    },
  } as unknown as ControlContext;
  /** A /route/ hand-out of request `idx` to worker 1, as Traffic.route records it. */
  const handOut = (idx: string) => t.routed.set(1, [...(t.routed.get(1) ?? []), { idx, cost: 1, at: now }]);
  return { ctx, t, handOut, now: () => now, advance: (ms: number) => (now += ms) };
}

const ep = { id: 7, accountId: 1 } as EndpointRecord;
const worker = (report: Partial<WorkerReport> | null): WorkerInfo =>
  ({
    instance: { id: 1, endpointId: 7 },
    phase: 'ready',
    report:
      report === null
        ? null
        : { instanceId: 1, curLoad: 0, maxPerf: 1, curPerf: 0, numRequestsWorking: 0, loaded: true, errorMsg: null, reportedAt: 0, ...report },
  }) as unknown as WorkerInfo;

describe("a drained worker's end", () => {
  it('a report of nothing to do made after the fence counts once every hand-out it may not cover was listed finished', () => {
    const { ctx, t, handOut, now, advance } = harness();
    handOut('a');
    advance(100);
    const d = beginDrain(ctx, ep, 1);
    advance(200);
    const quietSoon = worker({ reportedAt: now(), numRequestsWorking: 0 });
    advance(900);
    assert.equal(drainProgress(ctx, ep, quietSoon, d).drained, false, "hand-out 'a' may still be on its way to the worker");
    t.finished(1, new Set(['a']));
    assert.equal(drainProgress(ctx, ep, quietSoon, d).drained, true, 'listed finished: the report made after the fence says the rest');
  });

  it('a hand-out dropped unseen (its caller never called, or the list went to another replica) leaves the wait for a report after the grace', () => {
    const { ctx, handOut, now, advance } = harness();
    handOut('lost');
    advance(100);
    const d = beginDrain(ctx, ep, 1);
    const early = worker({ reportedAt: now() + 200 });
    advance(3_000);
    assert.equal(drainProgress(ctx, ep, early, d).drained, false, 'dropped after two seconds, yet never seen to end');
    assert.equal(drainProgress(ctx, ep, worker({ reportedAt: d.since + 1_000 }), d).drained, true, 'a report after the grace');
  });

  it('a report made before the fence, or one that says the worker works, does not end it; no report: the gateway alone says', () => {
    const { ctx, now, advance } = harness();
    const before = now() - 1;
    const d = beginDrain(ctx, ep, 1);
    advance(1_500);
    assert.equal(drainProgress(ctx, ep, worker({ reportedAt: before }), d).drained, false, 'made before the fence');
    assert.equal(drainProgress(ctx, ep, worker({ reportedAt: now(), numRequestsWorking: 1 }), d).drained, false, 'working');
    assert.equal(drainProgress(ctx, ep, worker(null), d).drained, true, 'a worker that does not report');
  });

  it("a listed request is no longer counted against the worker's load; a hand-out of another idx still is", () => {
    const { t, handOut, now } = harness();
    handOut('a');
    handOut('b');
    t.finished(1, new Set(['a', 'zz']));
    assert.deepEqual(
      t.handedOut(1, now()).map((r) => r.cost),
      [1],
    );
    assert.equal(t.unfinishedSince(1, now() - 1, now()), true);
    t.finished(1, new Set(['b']));
    assert.equal(t.routed.has(1), false);
    assert.equal(t.unfinishedSince(1, now() - 1, now()), false);
  });
});
