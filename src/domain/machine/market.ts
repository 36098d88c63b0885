import type { MachineForOffers } from '../offer/offer.js';

/**
 * GPU market metrics computed from Gantry's own fleet: what Vast's `metrics gpu` shows for its
 * whole marketplace, here for the machines this Gantry knows. Counts are GPUs; prices are $/GPU/hour
 * of the listings. Gantry measures no TFLOPS, so those fields are null; DLPerf is the offers' own
 * estimate (see `offersOf`).
 */
export type MarketMachine = Pick<
  MachineForOffers,
  'id' | 'gpuName' | 'numGpus' | 'gpuRamMb' | 'verified' | 'listed' | 'online' | 'inMaintenance' | 'priceGpuPerHour' | 'geolocation'
>;

export interface MarketFilter {
  readonly verified: 'yes' | 'no' | 'all';
  /** Machines with exactly this many GPUs; null: all. */
  readonly numGpus: number | null;
}

export interface GpuMarketRow {
  readonly gpu_name: string;
  readonly total: number;
  readonly available: number;
  readonly usage: number;
  readonly rented_verified: number;
  readonly avail_verified: number;
  readonly rented_unverified: number;
  readonly avail_unverified: number;
  readonly dlperf: number;
  readonly tflops: null;
  readonly tflops_per_dollar: null;
  readonly price_p10: number | null;
  readonly price_median: number | null;
  readonly price_p90: number | null;
}

/** Nearest-rank percentile of sorted values. */
export function percentile(sorted: readonly number[], p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1));
  return sorted[rank] ?? null;
}

const round = (x: number, d: number): number => Math.round(x * 10 ** d) / 10 ** d;

function selected(machines: readonly MarketMachine[], f: MarketFilter): MarketMachine[] {
  return machines.filter(
    (m) => m.numGpus > 0 && (f.verified === 'all' || m.verified === (f.verified === 'yes')) && (f.numGpus === null || m.numGpus === f.numGpus),
  );
}

/** One row per GPU model: supply, rentals (allocated GPUs per machine id) and listing prices. */
export function gpuMarket(machines: readonly MarketMachine[], allocated: ReadonlyMap<number, number>, f: MarketFilter): GpuMarketRow[] {
  const byName = new Map<string, MarketMachine[]>();
  for (const m of selected(machines, f)) byName.set(m.gpuName, [...(byName.get(m.gpuName) ?? []), m]);
  return [...byName.entries()]
    .sort(([a], [b]) => a.localeCompare(b))
    .map(([name, ms]) => {
      const c = { rented_verified: 0, avail_verified: 0, rented_unverified: 0, avail_unverified: 0 };
      const prices: number[] = [];
      let total = 0;
      for (const m of ms) {
        const rented = Math.min(m.numGpus, allocated.get(m.id) ?? 0);
        // Free GPUs count as available only where a renter could take them now.
        const avail = m.listed && m.online && !m.inMaintenance ? m.numGpus - rented : 0;
        total += m.numGpus;
        if (m.verified) {
          c.rented_verified += rented;
          c.avail_verified += avail;
        } else {
          c.rented_unverified += rented;
          c.avail_unverified += avail;
        }
        if (m.listed) for (let i = 0; i < m.numGpus; i++) prices.push(m.priceGpuPerHour);
      }
      prices.sort((a, b) => a - b);
      const rented = c.rented_verified + c.rented_unverified;
      const first = ms[0];
      return {
        gpu_name: name,
        total,
        available: c.avail_verified + c.avail_unverified,
        usage: total > 0 ? round((100 * rented) / total, 1) : 0,
        ...c,
        dlperf: first === undefined ? 0 : round((first.gpuRamMb / 1000) * 1.5, 3),
        tflops: null,
        tflops_per_dollar: null,
        price_p10: percentile(prices, 10),
        price_median: percentile(prices, 50),
        price_p90: percentile(prices, 90),
      };
    });
}

/** Where GPUs are: one row per machine. Gantry knows a machine's geolocation text only, no coordinates. */
export function gpuLocations(machines: readonly MarketMachine[], allocated: ReadonlyMap<number, number>): Record<string, unknown>[] {
  return selected(machines, { verified: 'all', numGpus: null }).map((m) => {
    const [city, country] = m.geolocation.split(',').map((s) => s.trim());
    return {
      machine_id: m.id,
      gpu_name: m.gpuName,
      city: city === undefined || city === '' ? null : city,
      country_code: country === undefined || country === '' ? null : country,
      num_gpus: m.numGpus,
      rented: (allocated.get(m.id) ?? 0) > 0,
      verified: m.verified,
      datacenter: false,
      latitude: null,
      longitude: null,
    };
  });
}
