import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ControlContext } from '../../src/control/context.js';
import { updateWorkersStep } from '../../src/control/serverless/update-workers.js';
import type { WorkerInfo } from '../../src/control/serverless/workers.js';
import type { EndpointRecord, WorkergroupRecord } from '../../src/domain/serverless/records.js';

/**
 * The replacement step's drain around the one case the system test (rolling-update-drain) cannot make
 * happen on demand: the new worker fails while the old one drains. The fences the step sets are
 * recorded; the real path (gateway, store, workers) is the system test's.
 */
function harness() {
  const fences: [number, number][] = [];
  let now = 1_000_000;
  const silent = { info: () => undefined, warn: () => undefined, child: () => silent };
  const ctx = {
    store: { updateWorkergroup: async () => undefined },
    clock: { now: () => now },
    settings: { stopDrainTimeoutMs: 60_000 },
    log: silent,
    traffic: { workerLoad: () => new Map(), fence: (_ep: number, id: number, until: number) => void fences.push([id, until]), invalidate: () => undefined },
  } as unknown as ControlContext;
  return { ctx, fences, advance: (ms: number) => (now += ms) };
}

const ep = { id: 7, accountId: 1 } as EndpointRecord;
const wg = {
  id: 3,
  endpointId: 7,
  workersOutdatedBefore: 500,
  template: { image: 'img', onstart: 'run', diskGb: 10, env: {} },
} as unknown as WorkergroupRecord;
const worker = (id: number, createdAt: number, phase: string, workergroupId = 3): WorkerInfo =>
  ({
    instance: {
      id,
      workergroupId,
      target: 'running',
      createdAt,
      startDate: createdAt,
      pendingOp: null,
      endpointId: 7,
      onstart: 'run',
      image: 'img',
      diskGb: 10,
      env: {},
    },
    phase,
    report: null,
  }) as unknown as WorkerInfo;

describe("a replacement's drain", () => {
  it('lifts the fence of the worker it drained, and recruits again', async () => {
    const { ctx, fences, advance } = harness();
    const old = worker(1, 100, 'ready');
    const step1 = await updateWorkersStep(ctx, ep, [wg], [old, worker(2, 900, 'ready')]);
    assert.match(String(step1.statusMsg), /draining worker 1/);
    assert.ok(fences.at(-1)![0] === 1 && fences.at(-1)![1] > 1_000_000, 'routed around while it drains');
    advance(100);
    // The new worker failed before the drain ended: the old one is the only one serving.
    const step2 = await updateWorkersStep(ctx, ep, [wg], [old, worker(2, 900, 'error')]);
    assert.deepEqual(fences.at(-1), [1, 0], 'routed to again');
    assert.equal(step2.recruitInto?.id, 3, 'a new worker is recruited');
  });

  it('never drains the last worker that serves: two groups updated at once drain one worker, the other recruits', async () => {
    const { ctx, fences } = harness();
    const wg2 = { ...wg, id: 4 } as WorkergroupRecord;
    const step = await updateWorkersStep(ctx, ep, [wg, wg2], [worker(1, 100, 'ready'), worker(2, 100, 'ready', 4)]);
    assert.deepEqual(
      fences.map(([id]) => id),
      [1],
      'only the first group drains',
    );
    assert.equal(step.recruitInto?.id, 4, 'the second group recruits before it drains its only worker');
  });

  it('goes on while a new worker is on its way, the fence kept up', async () => {
    const { ctx, fences, advance } = harness();
    // It still works on a request, by its own report.
    const old = { ...worker(1, 100, 'ready'), report: { reportedAt: 2_000_000, numRequestsWorking: 1 } } as unknown as WorkerInfo;
    await updateWorkersStep(ctx, ep, [wg], [old, worker(2, 900, 'ready')]);
    const first = fences.at(-1)![1];
    advance(30_000);
    const step = await updateWorkersStep(ctx, ep, [wg], [old, worker(2, 900, 'ready'), worker(3, 950, 'creating')]);
    assert.match(String(step.statusMsg), /draining worker 1 \(1 request/);
    assert.deepEqual(fences.at(-1), [1, first + 30_000], 'the fence moved on with the drain');
  });

  it('begins again, not late, when its fence lapsed while no pass looked at it (the lease was elsewhere)', async () => {
    const { ctx, advance } = harness();
    const old = worker(1, 100, 'ready');
    await updateWorkersStep(ctx, ep, [wg], [old, worker(2, 900, 'ready')]);
    advance(60_000 + 120_000 + 1);
    const step = await updateWorkersStep(ctx, ep, [wg], [old, worker(2, 900, 'ready')]);
    assert.equal(step.statusMsg, 'updating the workers of workergroup 3: draining worker 1', 'a new drain, not a destroy');
  });
});
