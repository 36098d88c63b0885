import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { UnwrittenLooks } from '../../src/control/loops/unwritten-looks.js';
import type { InstanceStatus } from '../../src/domain/instance/status.js';
import type { ObservationWrite } from '../../src/store/store.js';

/** A failed record's time stands for the next look only when that look records the same from the same row. */
const row = (over: { generation?: number; status?: InstanceStatus } = {}) => ({ id: 7, generation: 3, status: 'stopping' as InstanceStatus, ...over });
const write = (status: InstanceStatus, now: number, startDate?: number): ObservationWrite => ({
  status,
  statusMsg: null,
  exitCode: null,
  observedGeneration: 3,
  pendingOpDone: false,
  now,
  ...(startDate !== undefined ? { startDate } : {}),
});
const failedAt = (at: number, status: InstanceStatus = 'stopped'): UnwrittenLooks => {
  const u = new UnwrittenLooks();
  u.failed(row(), write(status, at));
  return u;
};

describe('unwritten looks', () => {
  it('the next record of the same status from the same row is applied at the failed one’s time, once', () => {
    const u = failedAt(1_000);
    assert.equal(u.apply(row(), write('stopped', 9_000)).now, 1_000);
    assert.equal(u.apply(row(), write('stopped', 9_500)).now, 9_500, 'used up');
  });

  it('keeps its own time when the row or the record differs: a new intent, a status written since, another status', () => {
    assert.equal(failedAt(1_000).apply(row({ generation: 4 }), write('stopped', 9_000)).now, 9_000);
    assert.equal(failedAt(1_000).apply(row({ status: 'stopped' }), write('stopped', 9_000)).now, 9_000);
    assert.equal(failedAt(1_000).apply(row(), write('failed', 9_000)).now, 9_000);
    assert.equal(failedAt(1_000).apply(row(), null), null);
  });

  it('a look that records nothing uses the kept time up: the runtime was seen otherwise since', () => {
    const u = failedAt(1_000);
    assert.equal(u.apply(row(), null), null);
    assert.equal(u.apply(row(), write('stopped', 9_000)).now, 9_000);
  });

  it('a start recorded late keeps the start date at the same time', () => {
    const u = failedAt(1_000, 'running');
    assert.deepEqual(u.apply(row(), write('running', 9_000, 9_000)), write('running', 1_000, 1_000));
  });

  it('a retry whose write fails too keeps the first time', async () => {
    const u = failedAt(1_000);
    await assert.rejects(u.write(row(), write('stopped', 5_000), () => Promise.reject(new Error('still away'))));
    let applied: ObservationWrite | null = null;
    await u.write(row(), write('stopped', 9_000), async (w) => void (applied = w));
    assert.equal((applied as ObservationWrite | null)?.now, 1_000);
  });
});
