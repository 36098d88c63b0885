import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { bodyCost, headerNumber } from '../../src/api/dialects/vast/cost.js';

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
  it("/route/'s cost: a JSON number as is, a string as the header's", () => {
    for (const v of [undefined, null, '']) assert.equal(bodyCost(v), null);
    assert.equal(bodyCost(4), 4);
    assert.equal(bodyCost('2.5'), 2.5);
    for (const v of ['0x10', '0b1', '0o7', '+1', true, {}, [1]]) assert.ok(Number.isNaN(bodyCost(v)), JSON.stringify(v));
  });
});
