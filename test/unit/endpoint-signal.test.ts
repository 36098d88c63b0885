import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointSignal } from '../../src/control/serverless/endpoint-signal.js';

/**
 * What an intent does, in order: passes are asked for here and at the other replicas at once; the
 * endpoint's rest is ended in the store, and then they are asked for again (the first may have passed
 * it by, resting, or skipped its row while the wake held it).
 */
describe('EndpointSignal.intent', () => {
  const recorder = (wake: () => Promise<void>) => {
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

  it('asks at once, and again once the wake is written', async () => {
    let done!: () => void;
    const { s, seen } = recorder(() => new Promise<void>((r) => (done = r)));
    s.intent(7);
    assert.deepEqual(seen, ['pass', 'publish 7', 'wake 7'], 'asked before any database write');
    await settled();
    assert.deepEqual(seen, ['pass', 'publish 7', 'wake 7'], 'not again before the wake is written');
    done();
    await settled();
    assert.deepEqual(seen, ['pass', 'publish 7', 'wake 7', 'pass', 'publish 7']);
  });

  it('asks once when the wake cannot be written', async () => {
    const { s, seen } = recorder(() => Promise.reject(new Error('database away')));
    s.intent(8);
    await settled();
    assert.deepEqual(seen, ['pass', 'publish 8', 'wake 8']);
  });

  it('a listener that throws on the second ask is not an unhandled rejection (the first ask threw to the caller)', async () => {
    const s = new EndpointSignal(
      () => undefined,
      () => Promise.resolve(),
    );
    let calls = 0;
    s.onPassDue(() => {
      if (++calls === 2) throw new Error('listener');
    });
    s.intent(9);
    await settled();
    assert.equal(calls, 2);
  });
});
