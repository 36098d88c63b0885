import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { decideIntent, type InstanceAction } from '../../src/domain/instance/intent.js';
import { assumedObservation, outcomeOf, planReconcile, type Observation } from '../../src/domain/instance/reconcile.js';
import { HOST_OFFLINE, recordAfterLook } from '../../src/domain/instance/observed-record.js';
import { INSTANCE_STATUSES, INSTANCE_TARGETS, type InstanceStatus, type InstanceTarget } from '../../src/domain/instance/status.js';

const ACTIONS: InstanceAction[] = ['start', 'stop', 'destroy', 'reboot', 'recycle'];
const s = (target: InstanceTarget, status: InstanceStatus, gen = 2, obs = 2) => ({ id: 7, target, status, generation: gen, observedGeneration: obs });

function outcome(target: InstanceTarget, status: InstanceStatus, action: InstanceAction): string {
  try {
    const c = decideIntent(s(target, status), action);
    return c === null ? 'noop' : `${c.target}${c.pendingOp ? '+' + c.pendingOp : ''}`;
  } catch (e) {
    assert.ok(e instanceof GantryError && e.code === 'ILLEGAL_TRANSITION', String(e));
    return 'illegal';
  }
}

describe('decideIntent: every (target, status, action)', () => {
  it('covers the whole table without throwing anything but ILLEGAL_TRANSITION', () => {
    for (const t of INSTANCE_TARGETS) for (const st of INSTANCE_STATUSES) for (const a of ACTIONS) outcome(t, st, a);
  });

  const cases: [InstanceTarget, InstanceStatus, InstanceAction, string][] = [
    ['running', 'running', 'stop', 'stopped'],
    ['running', 'loading', 'stop', 'stopped'],
    ['running', 'exited', 'stop', 'stopped'],
    ['stopped', 'stopping', 'stop', 'noop'], // repeated stop is idempotent
    ['stopped', 'stopped', 'stop', 'noop'],
    ['stopped', 'failed', 'stop', 'stopped'], // a failed stop may be retried
    ['stopped', 'stopped', 'start', 'running'],
    ['stopped', 'exited', 'start', 'running'],
    ['stopped', 'stopping', 'start', 'illegal'], // nothing but stop while stopping
    ['stopped', 'running', 'start', 'illegal'],
    ['stopped', 'failed', 'start', 'illegal'],
    ['running', 'running', 'start', 'noop'],
    ['running', 'exited', 'start', 'running'], // run an exited instance again
    ['running', 'running', 'reboot', 'running+reboot'],
    ['running', 'running', 'recycle', 'running+recycle'],
    ['stopped', 'stopped', 'reboot', 'illegal'],
    ['running', 'running', 'destroy', 'deleted'], // Vast's destroy stops first
    ['stopped', 'stopped', 'destroy', 'deleted'],
    ['deleted', 'stopping', 'destroy', 'noop'],
    ['deleted', 'stopping', 'start', 'illegal'],
    ['deleted', 'destroyed', 'destroy', 'illegal'],
    ['running', 'destroyed', 'start', 'illegal'],
  ];
  for (const [t, st, a, want] of cases) {
    it(`${a} on ${t}/${st} → ${want}`, () => assert.equal(outcome(t, st, a), want));
  }

  it('starts again an instance whose first start the runtime refused; not one still to start, out of time, or waiting for GPUs', () => {
    const refused = { ...s('running', 'created'), statusMsg: 'failed to start: ENOSPC: no space left on device, write' };
    assert.deepEqual(decideIntent(refused, 'start'), { target: 'running', pendingOp: null });
    assert.equal(decideIntent(s('running', 'created'), 'start'), null, 'created, its start not refused: nothing to do');
    assert.equal(decideIntent({ ...refused, generation: 3 }, 'start'), null, 'its start is still to be carried out');
    assert.equal(decideIntent({ ...refused, statusMsg: 'failed to start: start did not complete within 120000 ms' }, 'start'), null);
    assert.equal(decideIntent({ ...refused, gpuWaitSince: 5 }, 'start'), null, 'waiting for GPUs');
    for (const st of ['created', 'exited'] as const) assert.equal(decideIntent(s('running', st, 3, 2), 'start'), null);
  });

  it('explains why a transition is illegal', () => {
    assert.throws(() => decideIntent(s('stopped', 'stopping'), 'start'), /still stopping/);
    assert.throws(() => decideIntent(s('deleted', 'destroyed'), 'start'), /destroyed/);
    assert.throws(() => decideIntent(s('stopped', 'stopped'), 'reboot'), /it is stopped; start it instead/);
    assert.throws(() => decideIntent(s('stopped', 'stopping'), 'recycle'), /it is being stopped; start it once it is stopped/);
    assert.throws(() => decideIntent(s('stopped', 'exited'), 'reboot'), /it is stopped; start it instead/);
    assert.throws(() => decideIntent(s('stopped', 'failed'), 'reboot'), /its last stop did not complete; stop it again/);
  });
});

describe('planReconcile and outcomeOf', () => {
  const running: Observation = { state: 'running' };
  const absent: Observation = { state: 'absent' };
  const exited: Observation = { state: 'exited', exitCode: 3 };
  const base = { pendingOp: null } as const;

  it('starts a pending instance that has no process', () => {
    assert.deepEqual(planReconcile({ ...base, target: 'running', status: 'created', generation: 1, observedGeneration: 0 }, absent), {
      step: 'start',
      interim: 'loading',
    });
  });
  it('adopts a live process instead of starting a second one', () => {
    assert.equal(planReconcile({ ...base, target: 'running', status: 'loading', generation: 1, observedGeneration: 0 }, running).step, 'none');
  });
  it('does not restart an exited instance by itself', () => {
    assert.equal(planReconcile({ ...base, target: 'running', status: 'exited', generation: 1, observedGeneration: 1 }, exited).step, 'none');
  });
  it('stops when the target is stopped and something runs', () => {
    assert.deepEqual(planReconcile({ ...base, target: 'stopped', status: 'running', generation: 2, observedGeneration: 1 }, running), {
      step: 'stop',
      interim: 'stopping',
    });
  });
  it('stops orphaned processes of a stopped instance on observation too', () => {
    assert.equal(planReconcile({ ...base, target: 'stopped', status: 'stopped', generation: 2, observedGeneration: 2 }, running).step, 'stop');
  });
  it('destroys whatever the observation', () => {
    for (const o of [running, absent, exited])
      assert.equal(planReconcile({ ...base, target: 'deleted', status: 'running', generation: 3, observedGeneration: 2 }, o).step, 'destroy');
  });
  it('reboots and recycles only for a pending op', () => {
    assert.equal(planReconcile({ target: 'running', status: 'running', generation: 3, observedGeneration: 2, pendingOp: 'reboot' }, running).step, 'restart');
    assert.equal(planReconcile({ target: 'running', status: 'running', generation: 3, observedGeneration: 2, pendingOp: 'recycle' }, running).step, 'recycle');
    assert.equal(planReconcile({ target: 'running', status: 'running', generation: 3, observedGeneration: 3, pendingOp: 'reboot' }, running).step, 'none');
  });

  it("plans a running instance's new stop or delete without a look, and nothing else", () => {
    const asked = { ...base, status: 'running' as const, generation: 2, observedGeneration: 1 };
    for (const target of ['stopped', 'deleted'] as const) {
      const seen = assumedObservation({ ...asked, target });
      assert.deepEqual(seen, running);
      assert.deepEqual(planReconcile({ ...asked, target }, running), { step: target === 'stopped' ? 'stop' : 'destroy', interim: 'stopping' });
    }
    // Carried out already, not running (an exit code to keep, a failed stop that stands), or not an ending: a look first.
    assert.equal(assumedObservation({ ...asked, target: 'stopped', observedGeneration: 2 }), null);
    for (const status of INSTANCE_STATUSES.filter((s) => s !== 'running'))
      assert.equal(assumedObservation({ ...asked, target: 'stopped', status }), null, status);
    assert.equal(assumedObservation({ ...asked, target: 'running', pendingOp: 'reboot' }), null);
    assert.equal(assumedObservation({ ...asked, target: 'running', gpuWaitSince: 1 }), null);
  });

  const inp = (target: InstanceTarget) => ({ ...base, target, status: 'running' as const, generation: 2, observedGeneration: 1 });
  it('records stopped only when nothing runs any more', () => {
    assert.equal(outcomeOf(inp('stopped'), absent, { status: 'stopping' }).status, 'stopped');
    const failed = outcomeOf(inp('stopped'), running, { status: 'stopping' });
    assert.equal(failed.status, 'failed');
    assert.match(failed.message ?? '', /still running/);
  });
  it('records destroyed only when the runtime shows nothing', () => {
    assert.equal(outcomeOf(inp('deleted'), absent, { status: 'stopping' }).status, 'destroyed');
    assert.equal(outcomeOf(inp('deleted'), running, { status: 'stopping' }).status, 'failed');
  });
  it('keeps exit codes apart from processes that vanished', () => {
    assert.deepEqual(outcomeOf(inp('running'), exited, { status: 'running' }), { status: 'exited', message: 'main process exited with code 3', exitCode: 3 });
    assert.match(outcomeOf(inp('running'), absent, { status: 'running' }).message ?? '', /disappeared/);
    assert.equal(outcomeOf(inp('running'), { state: 'running', onstartExitCode: 0 }, { status: 'loading' }).message, 'onstart exited with code 0');
  });
});

describe('recordAfterLook: messages', () => {
  const inst = (statusMsg: string | null) => ({
    target: 'stopped' as const,
    status: 'unknown' as const,
    generation: 2,
    observedGeneration: 1,
    pendingOp: null,
    statusMsg,
    exitCode: null,
    startDate: 1,
  });
  const stopped = { step: 'stop' as const, after: { state: 'absent' as const }, error: null, imageNotice: null };
  it("keeps a stop's reason once stopped, but not that the host was offline: it is back", () => {
    assert.equal(recordAfterLook(inst('stopped: no credit left'), stopped).statusMsg, 'stopped: no credit left');
    assert.equal(recordAfterLook(inst(`${HOST_OFFLINE}no heartbeat for over 60 s`), stopped).statusMsg, null);
  });
});
