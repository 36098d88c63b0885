import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { GantryError } from '../../src/domain/errors.js';
import { chunkSizes, decodeOfferId, offerId, offersOf, type MachineForOffers } from '../../src/domain/offer/offer.js';
import { offerFieldType } from '../../src/domain/offer/search.js';
import { applyQuery } from '../../src/domain/query/filter.js';
import { machineForOffers } from '../helpers/machines.js';
import {
  parseVastSearch as parseOfferQuery,
  placementText,
  VAST_SEARCH_ANSWER_SCHEMA,
  vastOfferRow,
  vastPlacement,
} from '../../src/api/dialects/vast/offers.js';

const machine: MachineForOffers = machineForOffers();

describe('offers', () => {
  it('offers power-of-two chunks of the free GPUs', () => {
    assert.deepEqual(chunkSizes(8, 1, 8), [1, 2, 4, 8]);
    assert.deepEqual(chunkSizes(8, 2, 8), [2, 4, 8]);
    assert.deepEqual(chunkSizes(8, 1, 3), [1, 2]);
    assert.deepEqual(chunkSizes(8, 1, 0), []);
    assert.deepEqual(chunkSizes(6, 1, 6), [1, 2, 4, 6]);
    assert.deepEqual(chunkSizes(0, 1, 0), [0]); // CPU-only host
  });
  it('encodes machine and chunk in the offer id', () => {
    assert.deepEqual(decodeOfferId(offerId(42, 4)), { machineId: 42, numGpus: 4 });
    assert.throws(() => decodeOfferId(12), GantryError);
  });
  it('prices storage into dph_total and hides unlisted or offline machines', () => {
    const [one] = offersOf(machine, 8, { type: 'on-demand', allocatedStorageGb: 72, rentedByCaller: false }).map(vastOfferRow);
    assert.equal(one?.dph_base, 0.5);
    assert.equal(one?.dph_total, 0.51);
    assert.equal(offersOf({ ...machine, listed: false }, 8, { type: 'on-demand', allocatedStorageGb: 5, rentedByCaller: false }).length, 0);
    assert.equal(offersOf({ ...machine, online: false }, 8, { type: 'on-demand', allocatedStorageGb: 5, rentedByCaller: false }).length, 0);
    const [bid] = offersOf(machine, 8, { type: 'bid', allocatedStorageGb: 0, rentedByCaller: false }).map(vastOfferRow);
    assert.equal(bid?.dph_base, 0.2);
  });
});

describe('offer query', () => {
  const rows = offersOf(machine, 8, { type: 'on-demand', allocatedStorageGb: 5, rentedByCaller: false });
  // Vast's search body compiled to engine conditions, run over offers, shown as Vast rows.
  const run = (body: unknown) => applyQuery(rows, parseOfferQuery(body), offerFieldType).map((r) => vastOfferRow(r).num_gpus);

  it('applies every operator', () => {
    assert.deepEqual(run({ num_gpus: { gte: 2 }, order: [['num_gpus', 'asc']] }), [2, 4, 8]);
    assert.deepEqual(run({ num_gpus: { gt: 2, lte: 8 }, order: [['num_gpus', 'asc']] }), [4, 8]);
    assert.deepEqual(run({ num_gpus: { lt: 2 } }), [1]);
    assert.deepEqual(run({ num_gpus: { eq: 4 } }), [4]);
    assert.deepEqual(run({ num_gpus: { neq: 4 }, order: [['num_gpus', 'desc']] }), [8, 2, 1]);
    assert.deepEqual(run({ num_gpus: { in: [1, 8] }, order: [['num_gpus', 'asc']] }), [1, 8]);
    assert.deepEqual(run({ num_gpus: { notin: [1, 8] }, order: [['num_gpus', 'asc']] }), [2, 4]);
    assert.deepEqual(run({ num_gpus: { nin: [1, 2, 4] } }), [8]);
  });
  it('coerces strings by field type and matches GPU names with underscores', () => {
    assert.deepEqual(run({ num_gpus: { gte: '8' } }), [8]);
    assert.equal(run({ gpu_name: { eq: 'RTX_4090' } }).length, 4);
    assert.equal(run({ gpu_name: { in: ['rtx 4090'] } }).length, 4);
    assert.equal(run({ verified: { eq: 'true' } }).length, 4);
    assert.equal(run({ driver_version: { gte: 535000000 } }).length, 4);
    assert.equal(run({ driver_version: { gte: '536.0.0' } }).length, 0);
  });
  it('ignores unknown fields and null constraints, as real clients send many', () => {
    assert.equal(run({ external: { eq: false }, chunked: { eq: true }, georegion: { eq: 'x' }, score: { eq: null } }).length, 4);
  });
  it('orders and limits', () => {
    assert.deepEqual(run({ order: [['dph_total', 'desc']], limit: 2 }), [8, 4]);
  });
  it('returns the same first rows with a small limit as a full sort does (stable, ties kept in order)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.record({ id: fc.nat(), dphTotal: fc.integer({ min: 0, max: 5 }), numGpus: fc.integer({ min: 1, max: 3 }) }), { maxLength: 200 }),
        fc.nat({ max: 20 }),
        (rs, k) => {
          const order = [
            ['dph_total', 'asc'],
            ['num_gpus', 'desc'],
          ];
          const full = applyQuery(rs, parseOfferQuery({ order }), offerFieldType);
          assert.deepEqual(applyQuery(rs, parseOfferQuery({ order, limit: k }), offerFieldType), full.slice(0, k));
        },
      ),
    );
  });

  it('rejects unknown operators and wrongly typed values, naming the field', () => {
    assert.throws(() => parseOfferQuery({ num_gpus: { approx: 2 } }), /Unknown operator 'approx' on 'num_gpus'/);
    assert.throws(() => parseOfferQuery({ num_gpus: { gte: 'two' } }), /'num_gpus' needs a number/);
    assert.throws(() => parseOfferQuery({ verified: { eq: 'maybe' } }), /'verified' needs true or false/);
    assert.throws(() => parseOfferQuery({ num_gpus: { in: 3 } }), /needs a list/);
    assert.throws(() => parseOfferQuery({ order: 'dph' }), /order/);
    assert.throws(() => parseOfferQuery({ limit: -1 }), /limit/);
    assert.throws(() => parseOfferQuery({ type: 'spot' }), /type/);
    assert.throws(() => parseOfferQuery([]), /object/);
  });
  it('reads the {"q": {...}} wrapper of PUT /search/asks/', () => {
    assert.equal(parseOfferQuery({ select_cols: ['*'], q: { num_gpus: { eq: 2 } } }).conditions.length, 1);
  });
});

describe('Vast offer rows and placements', () => {
  it('the search answer schema names exactly the fields of a row, so none is dropped when serialising', () => {
    const [row] = offersOf(machine, 8, { type: 'on-demand', allocatedStorageGb: 5, rentedByCaller: false }).map(vastOfferRow);
    assert.deepEqual(Object.keys(VAST_SEARCH_ANSWER_SCHEMA.properties.offers.items.properties).sort(), Object.keys(row ?? {}).sort());
  });
  it('compiles the search language into engine conditions and shows it back', () => {
    const p = vastPlacement('num_gpus>=2 gpu_ram>=20 gpu_name=RTX_4090 verified=true reliability>0.99 geolocation in [US,CA]');
    assert.deepEqual(p.conditions[0], { field: 'numGpus', op: 'gte', value: 2 });
    assert.deepEqual(p.conditions[1], { field: 'gpuRamMb', op: 'gte', value: 20_000 });
    assert.equal(placementText(p), 'num_gpus>=2 gpu_ram>=20 gpu_name=RTX_4090 verified=true reliability>0.99 geolocation in [US,CA]');
    assert.deepEqual(vastPlacement(placementText(p)), p, 'the text round-trips');
    assert.deepEqual(vastPlacement('unknown_field=3').conditions, [], 'unknown fields are ignored, as in searches');
    assert.throws(() => vastPlacement('num_gpus'), /Cannot read the search query/);
  });
});
