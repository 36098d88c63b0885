import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import pino from 'pino';
import type { ControlContext } from '../../src/control/context.js';
import { ServerlessWakeups } from '../../src/control/loops/serverless-wakeups.js';
import { EndpointSignal } from '../../src/control/serverless/endpoint-signal.js';
import { LocalChangeFeed } from '../../src/store/change-feed.js';

/** The wake-ups over a real change feed, with a store that records the rests it ends and a loop that counts passes. */
function setup(): { feed: LocalChangeFeed; w: ServerlessWakeups; woken: string[]; passes: () => number; settle: () => Promise<void>; failNext: () => void } {
  const feed = new LocalChangeFeed();
  const woken: string[] = [];
  let passes = 0;
  let fail = false;
  const store = {
    changes: feed,
    wakeEndpoint: (id: number) => {
      if (fail) return (woken.push(`endpoint ${id} (failed)`), (fail = false), Promise.reject(new Error('the database is away')));
      return (woken.push(`endpoint ${id}`), Promise.resolve());
    },
    wakeResting: (ids: readonly number[]) => (woken.push(`resting ${ids.join(',')}`), Promise.resolve(ids.length)),
  };
  const ctx = { store, clock: { now: () => Date.now() }, endpointSignal: new EndpointSignal(), log: pino({ level: 'silent' }) };
  const w = new ServerlessWakeups(ctx as unknown as Pick<ControlContext, 'store' | 'clock' | 'endpointSignal' | 'log'>, () => passes++);
  const settle = () => new Promise<void>((r) => setTimeout(r, 5));
  return { feed, w, woken, passes: () => passes, settle, failNext: () => (fail = true) };
}

const worker = (id: number) => ({ instance: { id } });

describe('serverless wake-ups: the workers of a resting endpoint', () => {
  it("a change of a resting endpoint's cold worker ends its rest, then asks for a pass; an endpoint that does not rest is only passed", async () => {
    const { feed, w, woken, passes, settle } = setup();
    try {
      w.saw(1, [worker(10)]);
      w.passed(1, true);
      w.saw(2, [worker(20)]);
      w.passed(2, false);
      feed.publish('instance', 10); // its owner destroyed it (changeInstance tells its id)
      await settle();
      assert.deepEqual(woken, ['endpoint 1']);
      assert.equal(passes(), 1, 'a pass once the wake is written');
      feed.publish('instance-status', 10); // what follows (the reconciler records it destroyed) until the next pass
      await settle();
      assert.deepEqual(woken, ['endpoint 1'], 'woken once until its next pass');
      assert.equal(passes(), 2, 'a new status still asks for a pass');
      feed.publish('instance-status', 20);
      feed.publish('instance', 20);
      feed.publish('instance-status', 99); // no worker of any endpoint seen here
      await settle();
      assert.deepEqual(woken, ['endpoint 1'], 'no write for an endpoint that does not rest');
      assert.equal(passes(), 3, 'a new status of a worker asks for a pass, as before; an intent on one that does not rest asks for nothing');
    } finally {
      w.close();
    }
  });

  it('a pass under way is kept from resting on what it read before the change; after it, the endpoint is judged by what it wrote', async () => {
    const { feed, w, woken, settle } = setup();
    try {
      w.saw(3, [worker(30), worker(31)]);
      w.passing(3);
      feed.publish('instance', 30); // mostly the pass's own act on its worker: it acted, so it does not rest
      await settle();
      assert.deepEqual(woken, [], "an intent during the pass: the pass's own, most likely");
      feed.publish('instance-status', 30);
      feed.publish('instance-status', 31);
      await settle();
      assert.deepEqual(woken, ['endpoint 3'], 'one write for the pass');
      w.passed(3, true); // it wrote a rest, which the wake undid (applyEndpointPass's CASE, or the 0 after it)
      feed.publish('instance', 30);
      await settle();
      assert.deepEqual(woken, ['endpoint 3'], 'not resting, not passing: nothing to wake');
      w.passing(3);
      w.passed(3, true);
      feed.publish('instance', 31);
      await settle();
      assert.deepEqual(woken, ['endpoint 3', 'endpoint 3'], 'rested by a later pass: woken again');
    } finally {
      w.close();
    }
  });

  it('a wake that could not be written is written again at the next change', async () => {
    const { feed, w, woken, settle, failNext } = setup();
    try {
      w.saw(8, [worker(80)]);
      w.passed(8, true);
      failNext();
      feed.publish('instance', 80);
      await settle();
      assert.deepEqual(woken, ['endpoint 8 (failed)']);
      feed.publish('instance-status', 80);
      await settle();
      assert.deepEqual(woken, ['endpoint 8 (failed)', 'endpoint 8'], 'still asleep: woken at the next change');
    } finally {
      w.close();
    }
  });

  it('an instance created or a host connected (no id) wakes nothing; the feed resynchronising wakes every endpoint with workers resting or passed here', async () => {
    const { feed, w, woken, passes, settle } = setup();
    try {
      for (const id of [4, 5]) {
        w.saw(id, [worker(id * 10)]);
        w.passed(id, true);
      }
      w.saw(6, []); // resting with no worker: no worker's change can concern it
      w.passed(6, true);
      w.saw(7, [worker(70)]);
      w.passing(7);
      feed.publish('instance', null);
      await settle();
      assert.deepEqual(woken, []);
      assert.equal(passes(), 0);
      feed.publish('instance-status', null);
      await settle();
      assert.deepEqual(woken, ['resting 4,5', 'endpoint 7'], 'those resting with workers, and the pass under way');
      assert.equal(passes(), 2);
    } finally {
      w.close();
    }
  });
});
