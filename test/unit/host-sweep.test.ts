import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { asListing } from '../../src/control/hosts/agent-answers.js';
import { FAILED_START } from '../../src/domain/instance/observed-record.js';
import type { Observation } from '../../src/domain/instance/reconcile.js';
import { diffHost, isSettled, plainlyRunning, RESTING_RUNNING, type SweptInstance } from '../../src/domain/instance/sweep.js';

/** The host sweep's pure half (decision 017): which instances a plain look would change, read from one listing. */
const NOTICE = 'process runtime: the image is recorded but not pulled';
const inst = (over: Partial<SweptInstance> = {}): SweptInstance => ({
  id: 1,
  machineId: 7,
  target: 'running',
  status: 'running',
  generation: 2,
  observedGeneration: 2,
  pendingOp: null,
  gpuWaitSince: null,
  statusMsg: null,
  exitCode: null,
  startDate: 100,
  lastProcessedAt: 0,
  leaseExpiresAt: null,
  ...over,
});
const running: Observation = { state: 'running' };
const absent: Observation = { state: 'absent' };
const exited = (exitCode: number | null): Observation => ({ state: 'exited', exitCode });

describe('host sweep: at rest', () => {
  const cases: [string, Partial<SweptInstance>, Observation, boolean][] = [
    ['running and running', {}, running, true],
    ['running, the image notice kept from its start', { statusMsg: NOTICE }, running, true],
    ['running, onstart ended as recorded', { statusMsg: 'onstart exited with code 3' }, { state: 'running', onstartExitCode: 3 }, true],
    ['running, onstart just ended', {}, { state: 'running', onstartExitCode: 3 }, false],
    // A copy's progress (or any message written while it runs) is newer than the onstart note: kept.
    ['running, a copy into it reported', { statusMsg: 'copy C.3:/a → C.1:/b: done, 8 bytes' }, { state: 'running', onstartExitCode: 0 }, true],
    ['running but the workload died', {}, exited(1), false],
    ['running but the workload vanished', {}, absent, false],
    ['exited as recorded', { status: 'exited', exitCode: 9, statusMsg: 'main process exited with code 9' }, exited(9), true],
    ['exited with another code', { status: 'exited', exitCode: 9, statusMsg: 'main process exited with code 9' }, exited(1), false],
    ['exited, then adopted running again', { status: 'exited', exitCode: 9, statusMsg: 'main process exited with code 9' }, running, false],
    ['stopped, nothing runs', { target: 'stopped', status: 'stopped' }, absent, true],
    ['stopped with its reason kept', { target: 'stopped', status: 'stopped', statusMsg: 'Stopped: no credit' }, exited(0), true],
    ['stopped but it runs unexpectedly', { target: 'stopped', status: 'stopped' }, running, false],
    ['a start that failed keeps its reason', { status: 'exited', statusMsg: `${FAILED_START}no such file` }, absent, true],
    ['waiting for GPUs, never started', { status: 'created', gpuWaitSince: 5, statusMsg: 'waiting for GPUs' }, absent, true],
    ['a request not carried out', { generation: 3 }, running, false],
    ['a reboot asked for', { generation: 3, pendingOp: 'reboot' }, running, false],
    ['unknown (host was silent), runs', { status: 'unknown', statusMsg: 'host offline' }, running, false],
    ['stopping left behind', { target: 'stopped', status: 'stopping' }, absent, false],
    ['failed stop, now stopped', { target: 'stopped', status: 'failed', statusMsg: 'stop did not complete' }, absent, false],
    ['to be destroyed', { target: 'deleted', status: 'failed' }, absent, false],
  ];
  for (const [name, over, obs, want] of cases) it(name, () => assert.equal(isSettled(inst(over), obs, NOTICE), want));
});

describe('host sweep: one host diffed', () => {
  const o = { now: 1000, imageNotice: null, observeBefore: 500 };
  it('hands over what a look would change, leaves what is at rest, names workloads no instance owns', () => {
    const live = [inst({ id: 1 }), inst({ id: 2 }), inst({ id: 3 }), inst({ id: 4, target: 'stopped', status: 'stopped' })];
    const listed = [
      { id: 1, observation: running },
      { id: 2, observation: exited(137) },
      { id: 4, observation: running },
      { id: 99, observation: running },
    ];
    const d = diffHost(
      listed.map((w) => w.id),
      listed,
      live,
      0,
      o,
    );
    assert.deepEqual(d.handOver, [2, 3, 4], 'died, vanished (not listed) and running against a stopped intent');
    assert.deepEqual(d.unknown, [99]);
  });
  it('rows the store found resting are not read: their count accounts for the plainly running workloads not read', () => {
    const listed = [1, 2, 3, 4].map((id) => ({ id, observation: id === 4 ? exited(0) : running }));
    const live = [inst({ id: 3, status: 'exited', exitCode: 0, statusMsg: 'main process exited with code 0' })];
    const all = diffHost([], listed, live, 2, o);
    assert.deepEqual(all, { handOver: [3], unknown: [4] }, '1 and 2 rest; 3 runs again (adopted); 4 is no instance of this host');
    // One fewer resting than listed: some workload not read is no instance here; the removal re-reads each to find which.
    assert.deepEqual(diffHost([], listed, live, 1, o).unknown.sort(), [1, 2, 4]);
  });
  it('RESTING_RUNNING is at rest whenever the runtime shows it plainly running, whatever its message', () => {
    for (const statusMsg of [null, NOTICE, 'onstart exited with code 1', `${FAILED_START}x`])
      for (const obs of [running, { state: 'running', onstartExitCode: null } as Observation]) {
        assert.equal(plainlyRunning(obs), true);
        assert.equal(isSettled(inst({ ...RESTING_RUNNING, statusMsg, pendingOp: 'reboot' }), obs, NOTICE), true, String(statusMsg));
        assert.equal(isSettled(inst({ ...RESTING_RUNNING, statusMsg }), obs, null), true, String(statusMsg));
      }
    assert.equal(plainlyRunning({ state: 'running', onstartExitCode: 0 }), false);
    assert.equal(plainlyRunning(exited(0)), false);
  });
  it('skips rows another look holds, until their lease expires', () => {
    const live = [inst({ id: 1, leaseExpiresAt: 1000 }), inst({ id: 2, leaseExpiresAt: 999 })];
    assert.deepEqual(diffHost([], [], live, 0, o).handOver, [2]);
  });
  it('an old agent (bare ids): rows due by time are handed over, orphans still found', () => {
    const live = [inst({ id: 1, lastProcessedAt: 400 }), inst({ id: 2, lastProcessedAt: 600 })];
    const d = diffHost([1, 2, 50], null, live, 0, o);
    assert.deepEqual(d.handOver, [1]);
    assert.deepEqual(d.unknown, [50]);
  });
});

describe("host sweep: the agent's listing", () => {
  it('reads observations, and bare ids (an agent before the sweep) as no observations', () => {
    assert.deepEqual(
      asListing([
        { id: 1, state: 'running' },
        { id: 2, state: 'exited', exitCode: 3 },
        { id: 3, state: 'absent' },
      ]),
      {
        ids: [1, 2, 3],
        observed: [
          { id: 1, observation: { state: 'running' } },
          { id: 2, observation: { state: 'exited', exitCode: 3 } },
          { id: 3, observation: { state: 'absent' } },
        ],
      },
    );
    assert.deepEqual(asListing([4, 5]), { ids: [4, 5], observed: null });
    assert.deepEqual(asListing(null), { ids: [], observed: [] });
  });
  it('an entry it cannot read makes the whole listing bare ids: nothing is vouched for from a guess', () => {
    assert.equal(asListing([{ id: 1, state: 'running' }, 2]).observed, null);
    assert.equal(asListing([{ id: 1, state: 'weird' }]).observed, null);
    assert.equal(asListing([{ id: 1, state: 'exited', exitCode: 'x' }]).observed, null);
    assert.deepEqual(asListing([{ id: 'x', state: 'running' }]).ids, []);
  });
  it('an exit code past the 32 bits the store keeps reads as unknown (a PostgreSQL integer column refuses it)', () => {
    assert.deepEqual(asListing([{ id: 1, state: 'exited', exitCode: 2 ** 40 }]).observed, [{ id: 1, observation: { state: 'exited', exitCode: null } }]);
    assert.deepEqual(asListing([{ id: 1, state: 'running', onstartExitCode: -(2 ** 31) }]).observed, [
      { id: 1, observation: { state: 'running', onstartExitCode: null } },
    ]);
    assert.deepEqual(asListing([{ id: 1, state: 'exited', exitCode: -(2 ** 31 - 1) }]).observed, [
      { id: 1, observation: { state: 'exited', exitCode: -(2 ** 31 - 1) } },
    ]);
  });
});
