import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  decideDead,
  deadStatusMsg,
  isNewFailure,
  isWorkerFailure,
  NO_FAILURES,
  type WorkerFacts,
  type WorkerFailures,
} from '../../src/domain/serverless/dead.js';

const exited = (id: number, code: number | null = 3, o: Partial<WorkerFacts> = {}): WorkerFacts => ({
  id,
  current: true,
  ready: false,
  target: 'running',
  status: 'exited',
  exitCode: code,
  statusMsg: code === null ? 'process group disappeared without an exit code (killed from outside Gantry?)' : `main process exited with code ${code}`,
  output: 'starting\nboom',
  ...o,
});
const loading = (id: number): WorkerFacts => ({ id, current: true, ready: false, target: 'running', status: 'loading', exitCode: null, statusMsg: null });
const ready = (id: number, current = true): WorkerFacts => ({
  id,
  current,
  ready: true,
  target: 'running',
  status: 'running',
  exitCode: null,
  statusMsg: null,
});

/** Run passes in sequence, each seeing the workers given, carrying the count from one to the next. */
function passes(limit: number, ...seen: WorkerFacts[][]): ReturnType<typeof decideDead> {
  let failures: WorkerFailures = NO_FAILURES;
  let d: ReturnType<typeof decideDead> | null = null;
  for (const workers of seen) {
    d = decideDead({ failures, workers, limit });
    failures = d.failures;
  }
  return d as ReturnType<typeof decideDead>;
}

describe('dead endpoints (workers keep failing)', () => {
  it('a failure is a worker that should run and exited or failed; a stopped or destroyed one is not', () => {
    assert.equal(isWorkerFailure({ target: 'running', status: 'exited' }), true);
    assert.equal(isWorkerFailure({ target: 'running', status: 'failed' }), true);
    assert.equal(isWorkerFailure({ target: 'running', status: 'unknown' }), false, 'a lost host is not the worker failing');
    assert.equal(isWorkerFailure({ target: 'running', status: 'running' }), false);
    assert.equal(isWorkerFailure({ target: 'stopped', status: 'failed' }), false, 'a stop that failed is not the template failing');
    assert.equal(isWorkerFailure({ target: 'deleted', status: 'exited' }), false, 'already being destroyed');
  });

  it('each worker counts once, however many passes see it failed', () => {
    const d = passes(3, [exited(1)], [exited(1)], [exited(1)]);
    assert.equal(d.failures.count, 1);
    assert.equal(d.dead, false);
    assert.equal(isNewFailure(d.failures, exited(1)), false);
    assert.equal(isNewFailure(d.failures, exited(2)), true);
  });

  it('workers of a host that went offline and came back without them (a rebooted machine) are not failures of the template', () => {
    const away = (id: number): WorkerFacts => ({ ...loading(id), status: 'unknown', offline: true });
    const d = passes(3, [away(1), away(2), away(3)], [exited(1, null), exited(2, null), exited(3, null)]);
    assert.equal(d.failures.count, 0);
    assert.equal(d.dead, false);
    // A worker that fails on its own later still counts.
    assert.equal(passes(1, [away(1)], [exited(1, null), exited(4)]).dead, true);
  });

  it('dead at the limit, with the exit codes and the latest output in the message', () => {
    const d = passes(3, [exited(1)], [exited(2), loading(3)], [exited(3, 3, { output: 'a\nb\nc\nd\ne\nf\nValueError: no model\n' })]);
    assert.equal(d.dead, true);
    assert.equal(d.failures.count, 3);
    assert.deepEqual(d.newlyFailed, [3]);
    assert.match(d.statusMsg ?? '', /3 failure\(s\) without a ready worker \(limit 3\)/);
    assert.match(d.statusMsg ?? '', /exit codes: 3, 3, 3/);
    assert.match(d.statusMsg ?? '', /latest: worker 3: main process exited with code 3; last output: .*ValueError: no model/);
    assert.doesNotMatch(d.statusMsg ?? '', /\ba \|/, 'only the last lines of output are quoted');
  });

  it('below the limit it is not dead; several failures in one pass count each', () => {
    assert.equal(passes(3, [exited(1), exited(2)]).dead, false);
    assert.equal(passes(3, [exited(1), exited(2), exited(4)]).dead, true);
  });

  it('a ready worker of the current workergroup clears the count; failures seen with it do not count later', () => {
    const d = passes(2, [exited(1)], [ready(5), exited(2)], [ready(5), exited(2)]);
    assert.equal(d.failures.count, 0);
    assert.equal(d.dead, false);
    const after = decideDead({ failures: d.failures, workers: [exited(3)], limit: 2 });
    assert.equal(after.failures.count, 1, 'counting starts afresh after the ready worker');
  });

  it('a ready worker of an older workergroup does not clear the count, and old workers failing are not counted', () => {
    const old = ready(9, false);
    const d = passes(2, [old, exited(1)], [old, exited(8, 1, { current: false }), exited(2)]);
    assert.equal(d.failures.count, 2);
    assert.equal(d.dead, true);
    assert.match(d.statusMsg ?? '', /exit codes: 3, 3/, 'only current workers are quoted');
  });

  it('a count left over (a start that kept the memory) marks it dead only with a new failure', () => {
    const left: WorkerFailures = { count: 5, counted: [1], last: [] };
    assert.equal(decideDead({ failures: left, workers: [loading(2)], limit: 3 }).dead, false);
    assert.equal(decideDead({ failures: left, workers: [exited(1)], limit: 3 }).dead, false, 'worker 1 was counted before');
    assert.equal(decideDead({ failures: left, workers: [exited(2)], limit: 3 }).dead, true);
  });

  it('limit 0 never marks an endpoint dead', () => {
    assert.equal(passes(0, [exited(1), exited(2), exited(3), exited(4)]).dead, false);
  });

  it('an exit without a code (killed from outside) says so; a failure without output says what is known', () => {
    const d = passes(1, [exited(1, null, { output: null })]);
    assert.equal(d.dead, true);
    assert.match(d.statusMsg ?? '', /exit codes: none/);
    assert.match(d.statusMsg ?? '', /killed from outside Gantry/);
    assert.doesNotMatch(d.statusMsg ?? '', /last output/);
    const failedStart = passes(1, [{ ...exited(2), status: 'failed', exitCode: null, statusMsg: 'image pull failed', output: '' }]);
    assert.match(failedStart.statusMsg ?? '', /worker 2: image pull failed/);
  });

  it('the message names an exit code its status message does not', () => {
    const msg = deadStatusMsg({ count: 1, counted: [1], last: [{ workerId: 1, exitCode: 137, statusMsg: 'out of memory', output: null }] }, 1);
    assert.match(msg, /worker 1: out of memory \(exit code 137\)/);
  });

  it('the memory stays bounded', () => {
    let f: WorkerFailures = NO_FAILURES;
    for (let i = 0; i < 200; i++) f = decideDead({ failures: f, workers: [exited(i)], limit: 0 }).failures;
    assert.equal(f.count, 200);
    assert.ok(f.counted.length <= 50 && f.last.length <= 3);
  });
});
