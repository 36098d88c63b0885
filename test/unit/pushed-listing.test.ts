import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { readHeartbeat } from '../../src/api/agent/messages.js';
import { AgentSession } from '../../src/control/hosts/agent-session.js';
import { isGantryError } from '../../src/domain/errors.js';

const beat = { machineId: 1, session: 's', seq: 1, gpuUtils: null, usage: [], exited: [] };
const TIMINGS = { callTimeoutMs: 1000, stepTimeoutMs: 1000, connectedWindowMs: 60_000, heartbeatWindowMs: 60_000 };

/** A pushed listing (decision 021): read strictly on the wire, compared by one sweep, and asked for again only when stale. */
describe('pushed listings', () => {
  it('a heartbeat carries a listing exactly as `list` with observe answers it; a bad entry is refused naming the field', () => {
    const listing = [
      { id: 3, state: 'running' },
      { id: 4, state: 'exited', exitCode: 7 },
      { id: 5, state: 'running', onstartExitCode: null },
      { id: 6, state: 'absent' },
    ];
    assert.deepEqual(readHeartbeat({ ...beat, listing }, '').listing, listing);
    assert.equal(readHeartbeat(beat, '').listing, undefined, 'an older agent sends none');
    for (const bad of [
      { id: 3, state: 'gone' },
      { id: '3', state: 'running' },
      { id: 3, state: 'exited', exitCode: 'x' },
    ]) {
      assert.throws(
        () => readHeartbeat({ ...beat, listing: [bad] }, ''),
        (e: unknown) => isGantryError(e) && e.code === 'INVALID_ARGUMENT' && e.message.startsWith('listing[0]'),
      );
    }
    assert.throws(
      () => readHeartbeat({ ...beat, listing: {} }, ''),
      (e: unknown) => isGantryError(e) && e.code === 'INVALID_ARGUMENT',
    );
  });

  it('a session hands each pushed listing to one sweep: a changed one at once, an unchanged one with a routine round; a host that stopped pushing is wanted again once stale', () => {
    let now = 1000;
    const s = new AgentSession(1, null, TIMINGS, () => now);
    const running = { ids: [3], observed: [{ id: 3, observation: { state: 'running' } as const }] };
    assert.equal(s.sweepWanted(20_000, false), true, 'never pushed: due by time, as an older agent');
    assert.equal(s.takePushedListing(), null);
    s.pushListing(running);
    assert.equal(s.sweepWanted(20_000, false), true, 'a new listing is compared at once');
    assert.deepEqual(s.takePushedListing()?.ids, [3]);
    assert.equal(s.takePushedListing(), null, 'compared once');
    assert.equal(s.sweepWanted(20_000, true), false, 'nothing new to compare');
    s.pushListing(running);
    assert.equal(s.sweepWanted(20_000, false), false, 'the same listing again waits for a routine round');
    assert.equal(s.sweepWanted(20_000, true), true);
    s.pushListing({ ids: [3], observed: [{ id: 3, observation: { state: 'exited', exitCode: 1 } }] });
    assert.equal(s.sweepWanted(20_000, false), true, 'a change is compared at once');
    s.takePushedListing();
    now += 20_001;
    assert.equal(s.sweepWanted(20_000, false), true, 'pushes stopped: asked with list');
    s.pushListing({ ids: [3], observed: null });
    assert.equal(s.takePushedListing(), null, 'an unreadable listing vouches for nothing');
    assert.equal(s.sweepWanted(20_000, false), true);
  });
});
