import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { EndpointSignal } from '../../src/control/serverless/endpoint-signal.js';

/** What an intent does, in order: the endpoint's rest ends in the store first, then passes are asked for. */
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

  it('ends the rest before it asks this replica and the others for a pass (a claim before it would pass the endpoint by)', async () => {
    let done!: () => void;
    const { s, seen } = recorder(() => new Promise<void>((r) => (done = r)));
    s.intent(7);
    await settled();
    assert.deepEqual(seen, ['wake 7'], 'nothing asked while the wake is being written');
    done();
    await settled();
    assert.deepEqual(seen, ['wake 7', 'pass', 'publish 7']);
  });

  it('asks all the same when the wake cannot be written (the rest then ends at its time)', async () => {
    const { s, seen } = recorder(() => Promise.reject(new Error('database away')));
    s.intent(8);
    await settled();
    assert.deepEqual(seen, ['wake 8', 'pass', 'publish 8']);
  });
});
