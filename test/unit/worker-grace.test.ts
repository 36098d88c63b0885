import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workersOf, type WorkerReadContext } from '../../src/control/serverless/workers.js';
import type { InstanceRecord } from '../../src/domain/instance/instance.js';
import type { WorkerReport } from '../../src/domain/serverless/records.js';

const STALE = 30_000;

/** Workers running since t=0 whose last reports were made at the given times; the clock at `now`, serving since `since`. */
function fleet(reportedAt: readonly number[], now: number, since: number): WorkerReadContext {
  const rows = reportedAt.map(
    (_, i) => ({ id: i + 1, status: 'running', target: 'running', statusChangedAt: 0, statusMsg: null, ports: [], machineId: 1 }) as unknown as InstanceRecord,
  );
  const reports = new Map<number, WorkerReport>(
    reportedAt.map((at, i) => [
      i + 1,
      { instanceId: i + 1, curLoad: 0, maxPerf: 1, curPerf: 0, numRequestsWorking: 0, loaded: true, errorMsg: null, reportedAt: at },
    ]),
  );
  return {
    store: { listWorkers: async () => rows, workerReports: async () => reports },
    machines: { list: async () => [] },
    clock: { now: () => now },
    settings: { workerReportStaleMs: STALE, workerReadyTimeoutMs: 600_000 },
    servingSince: () => since,
  } as unknown as WorkerReadContext;
}

const phases = async (ctx: WorkerReadContext): Promise<string[]> => (await workersOf(ctx, 1)).map((w) => w.phase);

describe('worker reports after a downtime or a database outage', () => {
  it('counts the reports all workers stopped making together, for workerReportStaleMs after serving began', async () => {
    // Down from t=100 s to t=400 s: both workers last reported just before.
    assert.deepEqual(await phases(fleet([99_000, 99_500], 401_000, 400_000)), ['ready', 'ready']);
    // Past the grace, silence is silence.
    assert.deepEqual(await phases(fleet([99_000, 99_500], 431_000, 400_000)), ['error', 'error']);
  });

  it('still finds a worker that fell silent well before the others stopped reporting', async () => {
    assert.deepEqual(await phases(fleet([20_000, 99_500], 401_000, 400_000)), ['error', 'ready']);
  });

  it('changes nothing outside the grace', async () => {
    assert.deepEqual(await phases(fleet([80_000, 99_500], 100_000, 0)), ['ready', 'ready']);
    assert.deepEqual(await phases(fleet([60_000, 99_500], 100_000, 0)), ['error', 'ready']);
  });
});
