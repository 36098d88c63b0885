import { GantryError } from '../errors.js';
import type { OfferType } from './query.js';

/** A host machine as offers see it. Memory in MB, disk in GB, prices in $ (see field names). */
export interface MachineForOffers {
  readonly id: number;
  readonly ownerId: number;
  readonly hostname: string;
  readonly gpuName: string;
  readonly numGpus: number;
  readonly gpuRamMb: number;
  readonly gpuDeclared: boolean;
  readonly computeCap: number | null;
  readonly cpuName: string;
  readonly cpuArch: string;
  readonly cpuCores: number;
  readonly cpuRamMb: number;
  readonly diskSpaceGb: number;
  readonly driverVersion: string | null;
  readonly cudaMaxGood: number | null;
  readonly verified: boolean;
  readonly listed: boolean;
  readonly online: boolean;
  /** $/hour for one GPU (for the whole CPU instance on a machine without GPUs). */
  readonly priceGpuPerHour: number;
  readonly priceDiskPerGbMonth: number;
  readonly priceInetUpPerGb: number;
  readonly priceInetDownPerGb: number;
  readonly minBidPerGpuHour: number;
  readonly minChunk: number;
  readonly publicIp: string;
  readonly geolocation: string;
  readonly reliability: number;
  readonly inetUpMbps: number;
  readonly inetDownMbps: number;
  readonly directPortCount: number;
  readonly osVersion: string;
  /** Listing end (ms); a listing past it is not `listed`. */
  readonly endDate: number | null;
  readonly discountRate: number | null;
  /** Scheduled maintenance window; offers are hidden while `inMaintenance`. */
  readonly maintenance: { readonly start: number; readonly end: number; readonly reason: string | null } | null;
  readonly inMaintenance: boolean;
}

/** Offer ids encode the machine and the chunk size, so an offer needs no row of its own. */
const OFFER_ID_FACTOR = 1000;
export function offerId(machineId: number, numGpus: number): number {
  return machineId * OFFER_ID_FACTOR + numGpus;
}
export function decodeOfferId(id: number): { machineId: number; numGpus: number } {
  if (!Number.isSafeInteger(id) || id < OFFER_ID_FACTOR) throw new GantryError('OFFER_NOT_FOUND', `No offer with id ${id}.`, { offerId: id });
  return { machineId: Math.floor(id / OFFER_ID_FACTOR), numGpus: id % OFFER_ID_FACTOR };
}

/** Chunk sizes a machine offers: powers of two from min_chunk up to its free GPUs (or one CPU offer). */
export function chunkSizes(numGpus: number, minChunk: number, freeGpus: number): number[] {
  if (numGpus === 0) return [0];
  const sizes: number[] = [];
  for (let n = Math.max(1, minChunk); n <= freeGpus; n *= 2) sizes.push(n);
  if (freeGpus === numGpus && !sizes.includes(numGpus) && numGpus >= minChunk) sizes.push(numGpus);
  return sizes;
}

const HOURS_PER_MONTH = 30 * 24;
/** Storage $/hour for a disk of the given size. */
export function storagePerHour(m: Pick<MachineForOffers, 'priceDiskPerGbMonth'>, diskGb: number): number {
  return (m.priceDiskPerGbMonth * diskGb) / HOURS_PER_MONTH;
}
/** Compute $/hour for n GPUs of the machine under the given pricing type. */
export function computePerHour(m: Pick<MachineForOffers, 'priceGpuPerHour' | 'minBidPerGpuHour'>, numGpus: number, type: OfferType): number {
  const perGpu = type === 'bid' ? m.minBidPerGpuHour : m.priceGpuPerHour;
  return perGpu * Math.max(1, numGpus);
}

const POW10 = [1, 10, 100, 1e3, 1e4, 1e5, 1e6];
const round = (x: number, digits = 6): number => Math.round(x * (POW10[digits] ?? 1e6)) / (POW10[digits] ?? 1e6);

export type OfferRow = Record<string, string | number | boolean | null>;

/** The Vast-shaped offer rows of one machine given how many of its GPUs are free. */
export function offersOf(m: MachineForOffers, freeGpus: number, opts: { type: OfferType; allocatedStorageGb: number; rentedByCaller: boolean }): OfferRow[] {
  if (!m.listed || !m.online || m.inMaintenance) return [];
  const storage = storagePerHour(m, opts.allocatedStorageGb);
  return chunkSizes(m.numGpus, m.minChunk, freeGpus).map((n) => {
    const dphBase = computePerHour(m, n, opts.type);
    const dphTotal = dphBase + storage;
    const share = m.numGpus === 0 ? 1 : n / m.numGpus;
    const dlperf = round(n * (m.gpuRamMb / 1000) * 1.5, 3);
    return {
      id: offerId(m.id, n),
      ask_contract_id: offerId(m.id, n),
      bundle_id: offerId(m.id, n),
      machine_id: m.id,
      host_id: m.ownerId,
      hostname: m.hostname,
      gpu_name: m.numGpus === 0 ? 'CPU' : m.gpuName,
      gpu_arch: m.numGpus === 0 ? 'none' : 'nvidia',
      num_gpus: n,
      gpu_ram: m.gpuRamMb,
      gpu_total_ram: m.gpuRamMb * n,
      gpu_frac: round(share, 4),
      gpu_display_active: false,
      gpu_declared: m.gpuDeclared,
      compute_cap: m.computeCap,
      total_flops: null,
      cpu_name: m.cpuName,
      cpu_arch: m.cpuArch,
      cpu_cores: m.cpuCores,
      cpu_cores_effective: round(m.cpuCores * share, 2),
      cpu_ram: m.cpuRamMb,
      disk_space: m.diskSpaceGb,
      dph_base: round(dphBase),
      dph_total: round(dphTotal),
      storage_cost: m.priceDiskPerGbMonth,
      storage_total_cost: round(storage),
      inet_up: m.inetUpMbps,
      inet_down: m.inetDownMbps,
      inet_up_cost: m.priceInetUpPerGb,
      inet_down_cost: m.priceInetDownPerGb,
      min_bid: round(m.minBidPerGpuHour * Math.max(1, n)),
      is_bid: opts.type === 'bid',
      reliability: m.reliability,
      reliability2: m.reliability,
      verified: m.verified,
      verification: m.verified ? 'verified' : 'unverified',
      rentable: true,
      rented: opts.rentedByCaller,
      external: false,
      static_ip: true,
      direct_port_count: m.directPortCount,
      end_date: m.endDate === null ? null : m.endDate / 1000,
      dlperf,
      dlperf_per_dphtotal: dphTotal > 0 ? round(dlperf / dphTotal, 3) : 0,
      flops_per_dphtotal: 0,
      geolocation: m.geolocation,
      cuda_max_good: m.cudaMaxGood,
      driver_version: m.driverVersion,
      os_version: m.osVersion,
      public_ipaddr: m.publicIp,
      score: round(dlperf / Math.max(dphTotal, 0.001), 3),
    };
  });
}
