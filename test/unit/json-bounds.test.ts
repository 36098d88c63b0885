import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { nestedDeeperThan, textNestedDeeperThan } from '../../src/api/edge/json-body.js';
import { showValue } from '../../src/domain/show.js';

const deepText = (n: number): string => '['.repeat(n) + ']'.repeat(n);

describe('untrusted JSON in messages and at the edge', () => {
  it('showValue renders any value cut to its bound, whatever its depth or size', () => {
    assert.equal(showValue({ a: [1, 'x', null, true] }), '{"a":[1,"x",null,true]}');
    assert.equal(showValue(undefined), 'undefined');
    assert.equal(showValue(NaN), 'NaN');
    const deep = JSON.parse(deepText(100_000)) as unknown;
    const shown = showValue(deep);
    assert.ok(shown.length <= 101 && shown.startsWith('[[[['), shown);
    assert.ok(showValue('x'.repeat(1_000_000)).length <= 101);
    assert.ok(
      showValue(
        Array.from({ length: 100_000 }, (_, i) => i),
        20,
      ).length <= 21,
    );
    assert.ok(showValue({ ['k'.repeat(10_000)]: 1 }).length <= 101);
  });

  it('nesting depth is measured without recursion, in parsed values and in text', () => {
    assert.equal(nestedDeeperThan(JSON.parse(deepText(64)), 64), false);
    assert.equal(nestedDeeperThan(JSON.parse(deepText(65)), 64), true);
    assert.equal(nestedDeeperThan(JSON.parse(deepText(100_000)), 64), true);
    assert.equal(nestedDeeperThan({ a: { b: [1, 2, { c: 'x' }] } }, 4), false);
    assert.equal(nestedDeeperThan({ a: { b: [1, 2, { c: {} }] } }, 4), true);
    assert.equal(nestedDeeperThan('[[[', 1), false);
    assert.equal(textNestedDeeperThan(deepText(65), 64), true);
    assert.equal(textNestedDeeperThan(deepText(64), 64), false);
    // Brackets inside strings (escaped quotes too) are text, not nesting.
    assert.equal(textNestedDeeperThan(`["${'['.repeat(100)}\\"${'{'.repeat(100)}"]`, 2), false);
    assert.equal(textNestedDeeperThan('{"a":{"b":[1]}}', 3), false);
    assert.equal(textNestedDeeperThan('{"a":{"b":[[1]]}}', 3), true);
  });
});
