import assert from 'node:assert/strict';
import { before, describe, it } from 'node:test';
import { importWebModule } from '../helpers/web-module.js';

type Item = { id: number; type: 'charge' | 'payment'; description: string; quantity: number; amount: number; timestamp: number; instance_id: number | null };
type SpendPerDay = (items: readonly Item[], fromS: number, days: number) => [number[], number[]];

const DAY = 86_400;
const FROM = 20_000 * DAY;
const charge = (endS: number, hours: number, amount: number): Item => ({
  id: 1,
  type: 'charge',
  description: 'gpu',
  quantity: hours,
  amount,
  timestamp: endS,
  instance_id: 7,
});

/** The Account page's spend per day (web/src/pages/account/spend.ts, bundled as the console bundles it). */
describe("the console's spend per day", () => {
  let spendPerDay: SpendPerDay;
  before(async () => {
    ({ spendPerDay } = await importWebModule<{ spendPerDay: SpendPerDay }>('pages', 'account', 'spend.ts'));
  });

  it('one x per UTC day from the start, zero where nothing was charged', () => {
    const [x, y] = spendPerDay([], FROM, 3);
    assert.deepEqual(x, [FROM, FROM + DAY, FROM + 2 * DAY]);
    assert.deepEqual(y, [0, 0, 0]);
  });

  it('a charge across midnight is split in proportion to its hours on each day', () => {
    // 6 hours ending 2 hours into day 1: 4 hours on day 0, 2 on day 1.
    const [, y] = spendPerDay([charge(FROM + DAY + 2 * 3600, 6, 3)], FROM, 3);
    assert.deepEqual(
      y.map((v) => Math.round(v * 1e9) / 1e9),
      [2, 1, 0],
    );
  });

  it('credit movements, charges outside the range and zero-length charges are handled', () => {
    const payment: Item = { id: 2, type: 'payment', description: 'deposit', quantity: 1, amount: -50, timestamp: FROM + 10, instance_id: null };
    const sent: Item = { ...payment, id: 3, type: 'charge', amount: 5 };
    const [, y] = spendPerDay([payment, sent, charge(FROM - 10, 1, 9), charge(FROM + 5 * DAY, 1, 9), charge(FROM + 100, 0, 0.5)], FROM, 3);
    assert.deepEqual(y, [0.5, 0, 0]);
  });
});
