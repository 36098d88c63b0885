import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { importWebModule } from '../helpers/web-module.js';

type Row = { actual_status: string | null; intended_status: string; gantry_status?: string };
type Types = { startOrStop: (r: Row) => 'start' | 'stop' | 'wait'; statusOf: (r: Row) => string };

/** Which of start and stop an instance row offers (web/src/pages/instances/types.ts, bundled as the console bundles it). */
describe("the console's start and stop buttons", () => {
  let t: Types;
  before(async () => {
    t = await importWebModule<Types>('pages', 'instances', 'types.ts');
  });

  it('offers stop on a running instance and start on a stopped one', () => {
    assert.equal(t.startOrStop({ actual_status: 'running', intended_status: 'running', gantry_status: 'running' }), 'stop');
    assert.equal(t.startOrStop({ actual_status: 'stopped', intended_status: 'stopped', gantry_status: 'stopped' }), 'start');
    assert.equal(t.startOrStop({ actual_status: 'exited', intended_status: 'running', gantry_status: 'exited' }), 'start');
  });

  it('holds start back while the runtime has not confirmed a stop (the engine answers 409 "still stopping")', () => {
    // Asked to stop, not yet begun, and stopping: Vast's actual_status still reads running.
    assert.equal(t.startOrStop({ actual_status: 'running', intended_status: 'stopped', gantry_status: 'running' }), 'wait');
    assert.equal(t.startOrStop({ actual_status: 'running', intended_status: 'stopped', gantry_status: 'stopping' }), 'wait');
    // A created instance asked to stop before it ran can be started again.
    assert.equal(t.startOrStop({ actual_status: null, intended_status: 'stopped', gantry_status: 'created' }), 'start');
  });

  it('reads stopping while the runtime stops it, where Vast’s status still reads running', () => {
    assert.equal(t.statusOf({ actual_status: 'running', intended_status: 'stopped', gantry_status: 'stopping' }), 'stopping');
    assert.equal(t.statusOf({ actual_status: 'running', intended_status: 'running', gantry_status: 'running' }), 'running');
    assert.equal(t.statusOf({ actual_status: null, intended_status: 'running', gantry_status: 'created' }), 'created');
  });
});
