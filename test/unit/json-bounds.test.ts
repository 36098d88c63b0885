import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { illFormedText, nestedDeeperThan, textNestedDeeperThan } from '../../src/api/edge/json-body.js';
import { checkResourceGroupId } from '../../src/domain/account/resource-groups.js';
import { checkLabels, MAX_LABEL_CHARS, MAX_LABELS } from '../../src/domain/labels.js';
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

  it('a resource group id that is not one is quoted cut to about 100 characters, not echoed whole', () => {
    assert.throws(
      () => checkResourceGroupId(`bad!${'x'.repeat(10_000)}`),
      (e: Error & { code?: string }) => e.code === 'INVALID_ARGUMENT' && e.message.length < 200 && e.message.startsWith('"bad!xxx'),
    );
  });

  it('labels are bounded in count and in their keys and values together', () => {
    const label = (i: number, n: number) => ({ key: `ext.ai.sap.com/k${i}`, value: 'v'.repeat(n) });
    checkLabels(Array.from({ length: MAX_LABELS }, (_, i) => label(i, 1)));
    assert.throws(() => checkLabels(Array.from({ length: MAX_LABELS + 1 }, (_, i) => label(i, 1))), { code: 'INVALID_ARGUMENT' });
    assert.throws(() => checkLabels([label(0, MAX_LABEL_CHARS)]), { code: 'INVALID_ARGUMENT', details: { field: 'labels' } });
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

  it('a lone surrogate, in a key or a string at any depth, is found; pairs, emoji and other text are not', () => {
    assert.equal(illFormedText(JSON.parse('{"label":"x\\ud800y"}')), 'x\ud800y');
    assert.equal(illFormedText(JSON.parse('{"a":[1,{"b":["\\udc00"]}]}')), '\udc00');
    assert.equal(illFormedText(JSON.parse('{"\\ud800":1}')), '\ud800');
    assert.equal(illFormedText(JSON.parse('"\\ud83d"')), '\ud83d');
    assert.equal(illFormedText(JSON.parse('{"label":"\\ud83d\\ude00 \u05d0 \\u0000 \ufffd","n":[1,true,null]}')), null);
    assert.equal(illFormedText({ label: '😀'.repeat(1000) }), null);
    assert.equal(illFormedText(Array.from({ length: 500_000 }, () => 0)), null);
  });
});
