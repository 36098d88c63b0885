import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { checkPart, globPattern, matchIds, MAX_PARTS, parseIdExpression } from '../../src/domain/ml/models.js';
import { GantryError } from '../../src/domain/errors.js';

describe('model id expressions', () => {
  it('matches `*` patterns like Elasticsearch: prefix, suffix, middle, several stars', () => {
    const ids = ['bert-base', 'bert-large', 'distil-bert', 'e5-small', 'a'];
    const pick = (expr: string): string[] => matchIds(parseIdExpression(expr), ids).ids;
    assert.deepEqual(pick('bert*'), ['bert-base', 'bert-large']);
    assert.deepEqual(pick('*bert'), ['distil-bert']);
    assert.deepEqual(pick('*-*'), ['bert-base', 'bert-large', 'distil-bert', 'e5-small']);
    assert.deepEqual(pick('b*r*e'), ['bert-base', 'bert-large']);
    assert.deepEqual(pick('a,e5*'), ['a', 'e5-small']);
    assert.deepEqual(pick('_all'), [...ids].sort());
    assert.equal(matchIds(parseIdExpression('x*'), ids).emptyPattern, true);
    assert.deepEqual(matchIds(parseIdExpression('nope'), ids).missing, ['nope']);
  });

  it('answers a pattern built to make a backtracking matcher explode, correctly', () => {
    // A regular expression of this pattern backtracks exponentially over such an id (seconds at 14
    // characters); the two-pointer matcher walks it once per star at most.
    const id = 'a'.repeat(512);
    assert.equal(globPattern('*a*a*a*a*a*a*a*a*a*a*b').test(id), false);
    assert.equal(globPattern('*a*a*a*a*a*a*a*a*a*a*a').test(id), true);
    assert.equal(globPattern('a**b').test('ab'), true);
    assert.equal(globPattern('a*b').test('a'), false);
  });

  it("bounds a definition's totals to what every store and loader holds", () => {
    const part = { index: 0, totalParts: 1, totalDefinitionLength: 4, bytes: new Uint8Array(4) };
    checkPart(part);
    for (const bad of [{ totalParts: MAX_PARTS + 1 }, { totalParts: 3_000_000_000 }, { totalDefinitionLength: 2 ** 40 }]) {
      assert.throws(
        () => checkPart({ ...part, ...bad }),
        (e: unknown) => e instanceof GantryError && e.code === 'MODEL_DEFINITION_INVALID',
      );
    }
  });
});
