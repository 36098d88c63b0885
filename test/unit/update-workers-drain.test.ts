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
const worker = (id: number, createdAt: number, phase: string): WorkerInfo =>
  ({
    instance: {
      id,
      workergroupId: 3,
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

describe('a replacement drain when the new worker fails', () => {
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
});
