import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { amountFor, ratesOf } from '../../src/domain/billing/meter.js';
import { balanceMoves, chargesUpTo, instanceMeters, type MeterCharge, type OpenMeter } from '../../src/domain/billing/settle.js';

const HOUR = 3_600_000;

const row = {
  id: 7,
  accountId: 1,
  hostAccountId: 2,
  machineId: 3,
  dphBase: 1.5,
  storageCost: 0.2,
  diskGb: 40,
  gpuSince: 1_000,
  diskSince: 500,
};

function meter(o: Partial<OpenMeter>): OpenMeter {
  return { subjectId: 1, kind: 'disk', accountId: 1, hostAccountId: 2, machineId: 3, since: 0, rate: 1, ...o };
}

describe('set-based settlement: the pure computation', () => {
  it('reads one meter per open column, at the instance rates', () => {
    const rates = ratesOf(row);
    assert.deepEqual(instanceMeters([row]), [
      { subjectId: 7, accountId: 1, hostAccountId: 2, machineId: 3, kind: 'gpu', since: 1_000, rate: rates.gpu },
      { subjectId: 7, accountId: 1, hostAccountId: 2, machineId: 3, kind: 'disk', since: 500, rate: rates.disk },
    ]);
    assert.deepEqual(instanceMeters([{ ...row, gpuSince: null, diskSince: null }]), [], 'closed meters are not read');
    const [own] = instanceMeters([{ ...row, hostAccountId: null, gpuSince: null }]);
    assert.equal(own?.hostAccountId, 1, 'a machine without an owner: the renter is its own host');
  });

  const cases: { name: string; since: number; now: number; rate: number; amount: number | null }[] = [
    { name: 'one hour', since: 0, now: HOUR, rate: 2, amount: 2 },
    { name: 'a partial hour', since: HOUR, now: HOUR + 90_000, rate: 4, amount: amountFor(4, 90_000) },
    { name: 'a free meter still books its stretch', since: 0, now: HOUR, rate: 0, amount: 0 },
    { name: 'a meter started at now', since: HOUR, now: HOUR, rate: 2, amount: null },
    { name: 'a meter started after now (another replica ran ahead)', since: 2 * HOUR, now: HOUR, rate: 2, amount: null },
  ];
  for (const c of cases) {
    it(`charges ${c.name}`, () => {
      const got = chargesUpTo([meter({ since: c.since, rate: c.rate })], c.now);
      if (c.amount === null) return assert.deepEqual(got, []);
      assert.equal(got.length, 1);
      assert.equal(got[0]?.amount, c.amount);
      assert.equal(got[0]?.fromBalance, c.amount);
      assert.equal(got[0]?.start, c.since);
      assert.equal(got[0]?.end, c.now);
    });
  }

  it('cuts a stretch at each UTC midnight it crosses: one charge per day, together the whole stretch', () => {
    const DAY = 24 * HOUR;
    const since = 10 * DAY - HOUR;
    const got = chargesUpTo([meter({ since, rate: 2 })], 11 * DAY + 2 * HOUR);
    assert.deepEqual(
      got.map((c) => [c.start, c.end, c.since]),
      [
        [since, 10 * DAY, since],
        [10 * DAY, 11 * DAY, since],
        [11 * DAY, 11 * DAY + 2 * HOUR, since],
      ],
    );
    assert.deepEqual(
      got.map((c) => c.amount),
      [2, 48, 4],
    );
    assert.equal(chargesUpTo([meter({ since: 10 * DAY, rate: 2 })], 11 * DAY).length, 1, 'a stretch ending at midnight stays in its day');
  });

  it('nets the balance moves per account, in account order', () => {
    const charges: MeterCharge[] = chargesUpTo(
      [
        meter({ subjectId: 1, accountId: 5, hostAccountId: 2, rate: 1 }),
        meter({ subjectId: 2, accountId: 5, hostAccountId: 3, rate: 2 }),
        meter({ subjectId: 3, accountId: 3, hostAccountId: 2, rate: 4 }),
        meter({ subjectId: 4, accountId: 4, hostAccountId: 4, rate: 8 }), // own machine: nothing moves
        meter({ subjectId: 5, accountId: 6, hostAccountId: 2, rate: 0 }), // free: nothing moves
      ],
      HOUR,
    );
    assert.deepEqual(balanceMoves(charges), [
      { accountId: 2, delta: 5 },
      { accountId: 3, delta: -2 },
      { accountId: 5, delta: -3 },
    ]);
    const total = charges.reduce((s, c) => s + c.amount, 0);
    assert.equal(
      balanceMoves(charges).reduce((s, m) => s + m.delta, 0),
      total - total,
      'money moves, none is made',
    );
  });
});
