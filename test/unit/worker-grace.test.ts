import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { workersOf, type WorkerReadContext } from '../../src/control/serverless/workers.js';
import type { InstanceRecord } from '../../src/domain/instance/instance.js';
import type { WorkerReport } from '../../src/domain/serverless/records.js';
import { HOST_OFFLINE } from '../../src/domain/instance/observed-record.js';

const STALE = 30_000;

/** Workers running since t=0 whose last reports were made at the given times; the clock at `now`, serving since `since`. */
function fleet(reportedAt: readonly number[], now: number, since: number): WorkerReadContext {
  const rows = reportedAt.map(
    (_, i) => ({ id: i + 1, status: 'running', target: 'running', statusChangedAt: 0, statusMsg: null, ports: [], machineId: 1 }) as unknown as InstanceRecord,
  );
  const reports = new Map<number, WorkerReport>(
    reportedAt.map((at, i) => [
      i + 1,
      { instanceId: i + 1, curLoad: 0, maxPerf: 1, curPerf: 0, numRequestsWorking: 0, loaded: true, errorMsg: null, reportedAt: at, keyed: false },
    ]),
  );
  return {
    store: { listWorkers: async () => rows, workerReports: async () => reports },
    machines: { list: async () => [] },
    clock: { now: () => now },
    settings: { workerReportStaleMs: STALE, workerReadyTimeoutMs: 600_000, workerOfflineGraceMs: 120_000 },
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

  it('a worker that reports first after the downtime does not make its siblings read as silent', async () => {
    // Down from t=100 s to t=400 s; the third worker reported at 400.5 s, the other two not yet.
    assert.deepEqual(await phases(fleet([99_000, 99_500, 400_500], 401_000, 400_000)), ['ready', 'ready', 'ready']);
    // One that had fallen silent well before the downtime is still found.
    assert.deepEqual(await phases(fleet([20_000, 99_500, 400_500], 401_000, 400_000)), ['error', 'ready', 'ready']);
  });

  it('still finds a worker that fell silent well before the others stopped reporting', async () => {
    assert.deepEqual(await phases(fleet([20_000, 99_500], 401_000, 400_000)), ['error', 'ready']);
  });

  it('changes nothing outside the grace', async () => {
    assert.deepEqual(await phases(fleet([80_000, 99_500], 100_000, 0)), ['ready', 'ready']);
    assert.deepEqual(await phases(fleet([60_000, 99_500], 100_000, 0)), ['error', 'ready']);
  });
});

describe('workers of a host gone offline', () => {
  /** One worker whose instance became `unknown` at t=100 s with this status message. */
  const offlineAt = (statusMsg: string, now: number): WorkerReadContext => {
    const ctx = fleet([99_000], now, 0) as unknown as { store: { listWorkers: () => Promise<unknown[]> } };
    const row = { id: 1, status: 'unknown', target: 'running', statusChangedAt: 100_000, statusMsg, ports: [], machineId: 1 };
    ctx.store.listWorkers = async () => [row];
    return ctx as unknown as WorkerReadContext;
  };

  it('is in error but waited for during workerOfflineGraceMs, then an error like any other', async () => {
    const offline = `${HOST_OFFLINE}no heartbeat for over 60 s`;
    const [w] = await workersOf(offlineAt(offline, 219_000), 1);
    assert.equal(w?.phase, 'error');
    assert.equal(w?.offline, true);
    assert.equal((await workersOf(offlineAt(offline, 221_000), 1))[0]?.offline, false);
  });

  it('is not waited for when it is unknown for another reason', async () => {
    assert.equal((await workersOf(offlineAt('the runtime lost it', 101_000), 1))[0]?.offline, false);
  });
});
