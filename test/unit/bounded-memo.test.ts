import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { boundedMemo } from '../../src/domain/bounded-memo.js';

describe('boundedMemo', () => {
  it('computes a key once, null answers included, and forgets everything past its limit', () => {
    const calls: string[] = [];
    const f = boundedMemo(2, (k: string) => {
      calls.push(k);
      return k === 'none' ? null : k.length;
    });
    assert.equal(f('ab'), 2);
    assert.equal(f('ab'), 2);
    assert.equal(f('none'), null);
    assert.equal(f('none'), null);
    assert.deepEqual(calls, ['ab', 'none']);
    // A third key: the two kept are forgotten, so each is computed again when asked.
    assert.equal(f('abc'), 3);
    assert.equal(f('ab'), 2);
    assert.deepEqual(calls, ['ab', 'none', 'abc', 'ab']);
  });
});
