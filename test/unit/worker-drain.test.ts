import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ControlContext } from '../../src/control/context.js';
import { beginDrain, drainProgress, drainRanOut } from '../../src/control/serverless/worker-drain.js';
import { GantryError } from '../../src/domain/errors.js';
import { trafficOver } from '../helpers/traffic.js';
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
  /** A /route/ hand-out of request `idx` to worker 1. */
  const handOut = (idx: string) => t.handOut(1, idx, 1, now);
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
        : { instanceId: 1, curLoad: 0, maxPerf: 1, curPerf: 0, numRequestsWorking: 0, loaded: true, errorMsg: null, reportedAt: 0, keyed: false, ...report },
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
    t.finished(1, ['a']);
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
    t.finished(1, ['a', 'zz']);
    assert.deepEqual(
      t.handedOut(1, now()).map((r) => r.cost),
      [1],
    );
    assert.equal(t.unfinishedSince(1, now() - 1, now()), true);
    t.finished(1, ['b']);
    assert.equal(t.routed.has(1), false);
    assert.equal(t.unfinishedSince(1, now() - 1, now()), false);
  });

  it("a request_idx routed twice (the client's try again after a failure) ends one hand-out per entry the worker lists", () => {
    const { ctx, t, handOut, now, advance } = harness();
    handOut('42');
    advance(200);
    handOut('42');
    advance(100);
    const d = beginDrain(ctx, ep, 1);
    advance(100);
    const quiet = worker({ reportedAt: now(), numRequestsWorking: 0 });
    advance(1_000);
    t.finished(1, ['42']);
    assert.equal(t.routed.get(1)?.length, 1, 'the later try is still out');
    assert.equal(drainProgress(ctx, ep, quiet, d).drained, false);
    t.finished(1, ['42']);
    assert.equal(drainProgress(ctx, ep, quiet, d).drained, true);
  });

  it('a drain out of time cuts what is in flight at that worker, and only there, with the reason of its own', async () => {
    const worker2 = (id: number) => ({ id, url: `http://w${id}`, perf: 1, working: 0, reportedAt: 0, signedBy: null });
    const traffic = trafficOver({ workers: [worker2(10), worker2(11)] }, () => 5);
    try {
      const atOld = await traffic.acquire(1, 1);
      const atOther = await traffic.acquire(1, 1);
      assert.deepEqual([atOld.worker.id, atOther.worker.id].sort(), [10, 11]);
      const old = atOld.worker.id;
      const { ctx } = harness();
      const warned: unknown[] = [];
      const c = {
        ...ctx,
        traffic,
        settings: { stopDrainTimeoutMs: 60_000 },
        log: { warn: (o: unknown) => void warned.push(o) },
      } as unknown as ControlContext;
      drainRanOut(c, { ...ep, id: 1 }, old, 1, 'replaced by an update');
      assert.equal(atOld.signal.aborted, true);
      const reason = atOld.signal.reason as GantryError;
      assert.ok(reason instanceof GantryError);
      assert.equal(reason.code, 'WORKER_FAILED');
      assert.match(reason.message, /was replaced by an update after its drain ran out of time \(stopDrainTimeoutMs, 60 s\)/);
      assert.equal(atOther.signal.aborted, false, "the other worker's request goes on");
      assert.deepEqual(warned, [{ endpointId: 1, instanceId: old, inFlight: 1, cut: 1 }]);
      atOld.release();
      atOther.release();
    } finally {
      traffic.shutdown();
    }
  });
});
