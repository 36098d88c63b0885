import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointSignal } from '../../src/control/serverless/endpoint-signal.js';

/**
 * What an intent does, in order: passes are asked for here and at the other replicas at once; the
 * endpoint's rest is ended in the store, and if it rested they are asked for again (the first may have
 * passed it by). Demand from this replica's gateway does the same here only.
 */
describe('EndpointSignal.intent', () => {
  const recorder = (wake: () => Promise<boolean>) => {
    const seen: string[] = [];
    const s = new EndpointSignal(
      (id) => seen.push(`publish ${id}`),
      (id) => {
        seen.push(`wake ${id}`);
        return wake();
      },
    );
    s.onPassDue(() => seen.push('pass'));
    return { s, seen };
  };
  const settled = () => new Promise((r) => setImmediate(r));

  it('asks at once, and again once a resting endpoint was woken (a claim before the wake passed it by)', async () => {
    let done!: (stopped: boolean) => void;
    const { s, seen } = recorder(() => new Promise<boolean>((r) => (done = r)));
    s.intent(7);
    assert.deepEqual(seen, ['pass', 'publish 7', 'wake 7'], 'asked before any database write');
    await settled();
    done(true);
    await settled();
    assert.deepEqual(seen, ['pass', 'publish 7', 'wake 7', 'pass', 'publish 7']);
  });

  it('asks once for an endpoint that did not rest, or when the wake cannot be written', async () => {
    for (const wake of [() => Promise.resolve(false), () => Promise.reject(new Error('database away'))]) {
      const { s, seen } = recorder(wake);
      s.intent(8);
      await settled();
      assert.deepEqual(seen, ['pass', 'publish 8', 'wake 8']);
    }
  });

  it('a listener that throws on the second ask is not an unhandled rejection (the first ask threw to the caller)', async () => {
    const s = new EndpointSignal(
      () => undefined,
      () => Promise.resolve(true),
    );
    let calls = 0;
    s.onPassDue(() => {
      if (++calls === 2) throw new Error('listener');
    });
    s.intent(9);
    await settled();
    assert.equal(calls, 2);
  });

  it('demand asks this replica only; it wakes the endpoint only when the gateway saw no worker', async () => {
    const { s, seen } = recorder(() => Promise.resolve(true));
    s.demand(3, false);
    await settled();
    assert.deepEqual(seen, ['pass'], 'behind busy workers: it does not rest, nothing is written');
    seen.length = 0;
    s.demand(3, true);
    assert.deepEqual(seen, ['pass', 'wake 3']);
    await settled();
    assert.deepEqual(seen, ['pass', 'wake 3', 'pass'], 'it rested: asked again, and not published (no other replica holds the request)');
  });
});
