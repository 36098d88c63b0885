import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { offersOf, type MachineForOffers, type Offer } from '../../src/domain/offer/offer.js';
import { offerFieldType } from '../../src/domain/offer/search.js';
import { SortedRows } from '../../src/domain/offer/sorted-rows.js';
import { applyQuery, type Order } from '../../src/domain/query/filter.js';
import { machineForOffers } from '../helpers/machines.js';

// The offers test's machine, smaller: four GPUs, no driver.
const base: MachineForOffers = machineForOffers({
  id: 1,
  numGpus: 4,
  cpuCores: 16,
  cpuRamMb: 64000,
  diskSpaceGb: 500,
  driverVersion: null,
  cudaMaxGood: null,
});

const ORDERS: readonly (readonly Order[])[] = [
  [{ field: 'dphTotal', dir: 'asc' }],
  [{ field: 'score', dir: 'desc' }],
  [
    { field: 'numGpus', dir: 'asc' },
    { field: 'dphTotal', dir: 'asc' },
  ],
  [{ field: 'gpuName', dir: 'desc' }],
  [{ field: 'driverVersion', dir: 'asc' }],
  [{ field: 'vast:unknown', dir: 'asc' }],
];

/** One machine's offers from a few random traits (ties on price and name are frequent on purpose). */
const machineOffers = fc
  .record({
    id: fc.integer({ min: 1, max: 40 }),
    price: fc.integer({ min: 1, max: 4 }),
    name: fc.constantFrom('RTX 4090', 'rtx_4090', 'A100'),
    driver: fc.constantFrom(null, '535.104.05', '550.1.2'),
    gpus: fc.constantFrom(1, 2, 4, 8),
  })
  .map((t) =>
    offersOf({ ...base, id: t.id, priceGpuPerHour: t.price / 10, gpuName: t.name, driverVersion: t.driver, numGpus: t.gpus }, t.gpus, {
      type: 'on-demand',
      allocatedStorageGb: 5,
      rentedByCaller: false,
    }),
  );

describe('sorted rows (offers index)', () => {
  it('stay in the order a full sort gives (ties by offer id) through random inserts and removals, across block splits', () => {
    fc.assert(
      fc.property(
        fc.constantFrom(...ORDERS),
        fc.array(machineOffers, { maxLength: 12 }),
        fc.array(fc.tuple(fc.boolean(), machineOffers), { maxLength: 30 }),
        (order, initial, steps) => {
          const held = new Map<number, readonly Offer[]>();
          for (const offers of initial) if (offers[0] !== undefined) held.set(offers[0].machineId, offers);
          const s = new SortedRows(order, [...held.values()].flat(), 3);
          for (const [remove, offers] of steps) {
            const id = offers[0]?.machineId;
            if (id === undefined) continue;
            for (const r of held.get(id) ?? []) s.remove(r);
            held.delete(id);
            if (!remove) {
              for (const r of offers) s.insert(r);
              held.set(id, offers);
            }
          }
          const want = applyQuery(
            [...held.values()].flat().sort((a, b) => a.id - b.id),
            { conditions: [], order, limit: null },
            offerFieldType,
          );
          assert.deepEqual(s.blocks.flat(), want);
          assert.ok(s.blocks.every((b) => b.length > 0 && b.length <= 6));
        },
      ),
      { numRuns: 300 },
    );
  });
});
