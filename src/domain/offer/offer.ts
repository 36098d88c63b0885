import { GantryError } from '../errors.js';

/** How an offer is priced: on demand, as a bid (interruptible), or reserved. */
export type OfferType = 'on-demand' | 'bid' | 'reserved';

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

/**
 * A chunk of one machine's free GPUs that can be rented now, with its price under one pricing type.
 * Computed from machines on every search, never stored. Memory in MB, disk in GB, prices in $.
 */
export interface Offer {
  readonly id: number;
  readonly machineId: number;
  /** The machine owner's account. */
  readonly hostId: number;
  readonly hostname: string;
  /** 'CPU' for a machine without GPUs. */
  readonly gpuName: string;
  readonly gpuArch: string;
  readonly numGpus: number;
  readonly gpuRamMb: number;
  readonly gpuTotalRamMb: number;
  /** Share of the machine's GPUs this chunk holds. */
  readonly gpuFrac: number;
  readonly gpuDisplayActive: boolean;
  readonly gpuDeclared: boolean;
  readonly computeCap: number | null;
  readonly totalFlops: number | null;
  readonly cpuName: string;
  readonly cpuArch: string;
  readonly cpuCores: number;
  readonly cpuCoresEffective: number;
  readonly cpuRamMb: number;
  readonly diskSpaceGb: number;
  /** Compute $/hour. */
  readonly dphBase: number;
  /** Compute plus the storage asked for, $/hour. */
  readonly dphTotal: number;
  readonly storageCostPerGbMonth: number;
  readonly storageTotalPerHour: number;
  readonly inetUpMbps: number;
  readonly inetDownMbps: number;
  readonly inetUpCostPerGb: number;
  readonly inetDownCostPerGb: number;
  readonly minBid: number;
  readonly isBid: boolean;
  readonly reliability: number;
  readonly verified: boolean;
  readonly rentable: boolean;
  /** The caller rents GPUs on this machine already. */
  readonly rentedByCaller: boolean;
  readonly external: boolean;
  readonly staticIp: boolean;
  readonly directPortCount: number;
  /** Listing end (ms), or null. */
  readonly endDate: number | null;
  readonly dlperf: number;
  readonly dlperfPerDphTotal: number;
  readonly flopsPerDphTotal: number;
  readonly geolocation: string;
  readonly cudaMaxGood: number | null;
  readonly driverVersion: string | null;
  readonly osVersion: string;
  readonly publicIp: string;
  /** Deep-learning performance per dollar: the default order of a search. */
  readonly score: number;
}

/** The most vCPUs one CPU offer id can name (ids are machine * 1000 + size). */
export const MAX_CPU_CHUNK = OFFER_ID_FACTOR - 1;

/**
 * A machine without GPUs is rented by the vCPU: its offers are chunks of its free vCPUs (powers of two,
 * and all of them while none is rented), and an offer id names the chunk's vCPUs where a GPU machine's
 * names its GPUs. Id `machine * 1000` (the one CPU offer id before chunks) rents one vCPU.
 */
export function cpuChunkSizes(cpuCores: number, freeCores: number): number[] {
  return chunkSizes(Math.min(cpuCores, MAX_CPU_CHUNK), 1, Math.min(Math.floor(freeCores + 1e-6), MAX_CPU_CHUNK));
}

/** The share of a machine (vCPUs, RAM, the CPU price) one rental holds: its GPUs' share, or its vCPUs' on a CPU machine. */
export function machineShare(m: Pick<MachineForOffers, 'numGpus' | 'cpuCores'>, size: number): number {
  if (m.numGpus > 0) return size / m.numGpus;
  return m.cpuCores > 0 ? Math.max(1, size) / m.cpuCores : 1;
}

/** Compute $/hour of a rental of `size` (GPUs, or vCPUs on a CPU machine) under a pricing type. */
export function rentalPerHour(
  m: Pick<MachineForOffers, 'priceGpuPerHour' | 'minBidPerGpuHour' | 'numGpus' | 'cpuCores'>,
  size: number,
  type: OfferType,
): number {
  return m.numGpus > 0 ? computePerHour(m, size, type) : computePerHour(m, 0, type) * machineShare(m, size);
}

/** The offers of one machine given how many of its GPUs (and vCPUs, RAM in MB) are free. */
export function offersOf(
  m: MachineForOffers,
  freeGpus: number,
  opts: { type: OfferType; allocatedStorageGb: number; rentedByCaller: boolean; freeCpuCores?: number; freeRamMb?: number },
): Offer[] {
  if (!m.listed || !m.online || m.inMaintenance) return [];
  const storage = storagePerHour(m, opts.allocatedStorageGb);
  const freeCores = opts.freeCpuCores ?? m.cpuCores;
  const sizes = m.numGpus === 0 ? cpuChunkSizes(m.cpuCores, freeCores) : chunkSizes(m.numGpus, m.minChunk, freeGpus);
  return sizes.map((size): Offer => {
    const n = m.numGpus === 0 ? 0 : size;
    const dphBase = rentalPerHour(m, size, opts.type);
    const dphTotal = dphBase + storage;
    const share = machineShare(m, size);
    const dlperf = round(n * (m.gpuRamMb / 1000) * 1.5, 3);
    return {
      id: offerId(m.id, size),
      machineId: m.id,
      hostId: m.ownerId,
      hostname: m.hostname,
      gpuName: m.numGpus === 0 ? 'CPU' : m.gpuName,
      gpuArch: m.numGpus === 0 ? 'none' : 'nvidia',
      numGpus: n,
      gpuRamMb: m.gpuRamMb,
      gpuTotalRamMb: m.gpuRamMb * n,
      gpuFrac: m.numGpus === 0 ? 1 : round(share, 4),
      gpuDisplayActive: false,
      gpuDeclared: m.gpuDeclared,
      computeCap: m.computeCap,
      totalFlops: null,
      cpuName: m.cpuName,
      cpuArch: m.cpuArch,
      // What is left on the machine, and this rental's part of it.
      cpuCores: round(freeCores, 2),
      cpuCoresEffective: round(m.cpuCores * share, 2),
      cpuRamMb: Math.round(opts.freeRamMb ?? m.cpuRamMb),
      diskSpaceGb: m.diskSpaceGb,
      dphBase: round(dphBase),
      dphTotal: round(dphTotal),
      storageCostPerGbMonth: m.priceDiskPerGbMonth,
      storageTotalPerHour: round(storage),
      inetUpMbps: m.inetUpMbps,
      inetDownMbps: m.inetDownMbps,
      inetUpCostPerGb: m.priceInetUpPerGb,
      inetDownCostPerGb: m.priceInetDownPerGb,
      minBid: round(rentalPerHour(m, size, 'bid')),
      isBid: opts.type === 'bid',
      reliability: m.reliability,
      verified: m.verified,
      rentable: true,
      rentedByCaller: opts.rentedByCaller,
      external: false,
      staticIp: true,
      directPortCount: m.directPortCount,
      endDate: m.endDate,
      dlperf,
      dlperfPerDphTotal: dphTotal > 0 ? round(dlperf / dphTotal, 3) : 0,
      flopsPerDphTotal: 0,
      geolocation: m.geolocation,
      cudaMaxGood: m.cudaMaxGood,
      driverVersion: m.driverVersion,
      osVersion: m.osVersion,
      publicIp: m.publicIp,
      score: round(dlperf / Math.max(dphTotal, 0.001), 3),
    };
  });
}
