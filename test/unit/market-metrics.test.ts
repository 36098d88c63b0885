import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { gpuLocations, gpuMarket, percentile, type MarketMachine } from '../../src/domain/machine/market.js';

const machine = (id: number, o: Partial<MarketMachine> = {}): MarketMachine => ({
  id,
  gpuName: 'RTX 4090',
  numGpus: 4,
  gpuRamMb: 24000,
  verified: true,
  listed: true,
  online: true,
  inMaintenance: false,
  priceGpuPerHour: 0.5,
  geolocation: 'Oslo, NO',
  ...o,
});

describe('GPU market metrics from the fleet', () => {
  it('percentile: nearest rank, null for no values', () => {
    assert.equal(percentile([], 50), null);
    assert.equal(percentile([1, 2, 3, 4], 50), 2);
    assert.equal(percentile([1, 2, 3, 4], 90), 4);
    assert.equal(percentile([1, 2, 3, 4], 10), 1);
  });

  it('counts rented and available GPUs by verification; unlisted, offline or maintained GPUs are not available', () => {
    const ms = [
      machine(1),
      machine(2, { verified: false, priceGpuPerHour: 0.3 }),
      machine(3, { listed: false }),
      machine(4, { online: false }),
      machine(5, { inMaintenance: true }),
      machine(6, { gpuName: 'A100', numGpus: 8, priceGpuPerHour: 1 }),
      machine(7, { gpuName: 'CPU', numGpus: 0 }),
    ];
    const rows = gpuMarket(
      ms,
      new Map([
        [1, 1],
        [2, 4],
      ]),
      { verified: 'all', numGpus: null },
    );
    assert.deepEqual(
      rows.map((r) => r.gpu_name),
      ['A100', 'RTX 4090'],
    );
    const r = rows[1]!;
    assert.equal(r.total, 20);
    assert.equal(r.rented_verified, 1);
    assert.equal(r.avail_verified, 3);
    assert.equal(r.rented_unverified, 4);
    assert.equal(r.avail_unverified, 0);
    assert.equal(r.available, 3);
    assert.equal(r.usage, 25);
    assert.equal(r.price_p10, 0.3);
    assert.equal(r.price_median, 0.5);
    assert.equal(r.tflops, null);
  });

  it('filters by verification and by the machine GPU count', () => {
    const ms = [machine(1), machine(2, { verified: false, numGpus: 8 })];
    assert.equal(gpuMarket(ms, new Map(), { verified: 'yes', numGpus: null })[0]?.total, 4);
    assert.equal(gpuMarket(ms, new Map(), { verified: 'no', numGpus: null })[0]?.total, 8);
    assert.deepEqual(gpuMarket(ms, new Map(), { verified: 'all', numGpus: 2 }), []);
  });

  it('locations: city and country from the geolocation text, no coordinates', () => {
    const [loc] = gpuLocations([machine(1)], new Map([[1, 2]]));
    assert.deepEqual({ city: loc?.city, cc: loc?.country_code, rented: loc?.rented, lat: loc?.latitude }, { city: 'Oslo', cc: 'NO', rented: true, lat: null });
  });
});
