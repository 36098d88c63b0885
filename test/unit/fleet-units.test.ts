import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { validateListing, validateMaintenance } from '../../src/domain/machine/listing.js';
import { parseGpuUtilization, parseNvidiaSmi } from '../../src/domain/machine/gpus.js';
import { demuxLogs, pullProgressText } from '../../src/runtime/docker/engine-streams.js';

const frame = (stream: number, text: string): Buffer => {
  const body = Buffer.from(text);
  const h = Buffer.alloc(8);
  h[0] = stream;
  h.writeUInt32BE(body.length, 4);
  return Buffer.concat([h, body]);
};

describe('fleet units', () => {
  it('reads what nvidia-smi printed on a real H100 (driver 580, recorded 2026-11-23)', () => {
    const banner = '| NVIDIA-SMI 580.159.04             Driver Version: 580.159.04     CUDA Version: 13.0     |\n';
    assert.deepEqual(parseNvidiaSmi('NVIDIA H100 80GB HBM3, 81559, 580.159.04, 9.0\n', banner), {
      name: 'H100 80GB HBM3',
      count: 1,
      memoryMb: 85521,
      driverVersion: '580.159.04',
      cudaVersion: 13,
      computeCap: 900,
      declared: false,
    });
    assert.equal(parseNvidiaSmi('NVIDIA H100 80GB HBM3, 81559, 580.159.04\n', banner)?.computeCap, null, 'older drivers: no compute_cap column');
    assert.deepEqual(parseGpuUtilization('0, 0\n'), [0]);
  });

  it('parses per-GPU utilisation from nvidia-smi, [N/A] as 0', () => {
    assert.deepEqual(parseGpuUtilization('0, 35\n1, 100\n'), [35, 100]);
    assert.deepEqual(parseGpuUtilization('0, [N/A]\n\n'), [0]);
    assert.deepEqual(parseGpuUtilization('garbage'), []);
  });

  it('demultiplexes engine log frames and passes plain text through', () => {
    assert.equal(demuxLogs(Buffer.concat([frame(1, 'out\n'), frame(2, 'err\n')])), 'out\nerr\n');
    assert.equal(demuxLogs(Buffer.from('plain tty output\n')), 'plain tty output\n');
    assert.equal(demuxLogs(Buffer.alloc(0)), '');
  });

  it('turns pull events into one progress line over all layers', () => {
    const layers = new Map<string, { current: number; total: number }>();
    assert.equal(pullProgressText('img', layers, { status: 'Pulling fs layer', id: 'a' }), null);
    pullProgressText('img', layers, { id: 'a', status: 'Downloading', progressDetail: { current: 50e6, total: 100e6 } });
    const line = pullProgressText('img', layers, { id: 'b', status: 'Downloading', progressDetail: { current: 0, total: 100e6 } });
    assert.equal(line, 'pulling image img: 25% (50.0 of 200.0 MB, 2 layers)');
    assert.equal(pullProgressText('img', layers, { id: 'a', status: 'Download complete' }), 'pulling image img: 50% (100.0 of 200.0 MB, 2 layers)');
  });

  it('validates listings: prices, power-of-two min_chunk within the GPUs, future end_date', () => {
    const now = 1_000_000;
    assert.doesNotThrow(() => validateListing({ priceGpuPerHour: 0.5, minChunk: 4, endDate: now + 1 }, { numGpus: 8 }, now));
    for (const bad of [
      { minChunk: 3 },
      { minChunk: 16 },
      { priceGpuPerHour: Number.NaN },
      { priceDiskPerGbMonth: -0.1 },
      { endDate: now },
      { discountRate: 2 },
    ]) {
      assert.throws(
        () => validateListing(bad, { numGpus: 8 }, now),
        (e: unknown) => e instanceof GantryError && e.code === 'INVALID_ARGUMENT',
      );
    }
    assert.deepEqual(validateMaintenance(now, 2, now), { start: now, end: now + 7_200_000 });
    assert.throws(() => validateMaintenance(now - 120_000, 1, now));
    assert.throws(() => validateMaintenance(now, 0, now));
  });
});
