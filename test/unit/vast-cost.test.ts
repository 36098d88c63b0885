import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { headerNumber } from '../../src/api/dialects/vast/cost.js';
import { optNumber } from '../../src/api/dialects/vast/parse.js';
import { numberOf } from '../../src/domain/number.js';

/** A request's cost is a decimal number in X-Gantry-Cost and in /route/'s `cost` alike (Number() also reads 0x10, 0b1, 0o7). */
describe('request costs as sent', () => {
  it('X-Gantry-Cost: decimal only', () => {
    assert.equal(headerNumber(undefined), null);
    for (const [v, n] of [
      ['1', 1],
      ['2.5', 2.5],
      ['.5', 0.5],
      ['1e3', 1000],
      [' 3 ', 3],
    ] as const)
      assert.equal(headerNumber(v), n, v);
    for (const v of ['', '0x10', '0b1', '0o7', '+1', '1,5', 'Infinity', 'abc']) assert.ok(Number.isNaN(headerNumber(v)), v);
    assert.ok(Number.isNaN(headerNumber(['1', '2'])));
  });
  it("/route/'s cost, and every numeric field: a JSON number as is, a string as the header's", () => {
    for (const v of [undefined, null, '']) assert.equal(optNumber({ cost: v }, 'cost'), null);
    assert.equal(optNumber({ cost: 4 }, 'cost'), 4);
    assert.equal(optNumber({ cost: '2.5' }, 'cost'), 2.5);
    for (const v of ['0x10', '0b1', '0o7', '+1', true, {}, [1]]) {
      assert.ok(Number.isNaN(numberOf(v)), JSON.stringify(v));
      assert.throws(() => optNumber({ cost: v }, 'cost'), JSON.stringify(v));
    }
    assert.equal(numberOf('-1.5e2'), -150, 'a sign as JSON writes one');
  });
});
