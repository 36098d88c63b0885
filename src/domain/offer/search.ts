import { GantryError } from '../errors.js';
import type { Condition, FieldType, Order, RowQuery } from '../query/filter.js';
import type { Offer, OfferType } from './offer.js';

/** Offer fields a search may filter or order on, with their value types. */
export const OFFER_FIELD_TYPES: Readonly<Record<keyof Offer, FieldType>> = {
  id: 'number',
  machineId: 'number',
  hostId: 'number',
  hostname: 'string',
  gpuName: 'string',
  gpuArch: 'string',
  numGpus: 'number',
  gpuRamMb: 'number',
  gpuTotalRamMb: 'number',
  gpuFrac: 'number',
  gpuDisplayActive: 'boolean',
  gpuDeclared: 'boolean',
  computeCap: 'number',
  totalFlops: 'number',
  cpuName: 'string',
  cpuArch: 'string',
  cpuCores: 'number',
  cpuCoresEffective: 'number',
  cpuRamMb: 'number',
  diskSpaceGb: 'number',
  dphBase: 'number',
  dphTotal: 'number',
  storageCostPerGbMonth: 'number',
  storageTotalPerHour: 'number',
  inetUpMbps: 'number',
  inetDownMbps: 'number',
  inetUpCostPerGb: 'number',
  inetDownCostPerGb: 'number',
  minBid: 'number',
  isBid: 'boolean',
  reliability: 'number',
  verified: 'boolean',
  rentable: 'boolean',
  rentedByCaller: 'boolean',
  external: 'boolean',
  staticIp: 'boolean',
  directPortCount: 'number',
  endDate: 'number',
  dlperf: 'number',
  dlperfPerDphTotal: 'number',
  flopsPerDphTotal: 'number',
  geolocation: 'string',
  cudaMaxGood: 'number',
  driverVersion: 'version',
  osVersion: 'string',
  publicIp: 'string',
  score: 'number',
};

export type OfferField = keyof Offer;

export function offerFieldType(field: string): FieldType | undefined {
  return Object.prototype.hasOwnProperty.call(OFFER_FIELD_TYPES, field) ? OFFER_FIELD_TYPES[field as OfferField] : undefined;
}

/** A search over offers: conditions and order on offer fields, a limit, and how to price. */
export interface OfferSearch extends RowQuery {
  readonly type: OfferType;
  /** GB of disk used to price storage into dphTotal. */
  readonly allocatedStorageGb: number;
}

export const DEFAULT_ALLOCATED_STORAGE_GB = 5;
export const MAX_OFFER_LIMIT = 100_000;
/** What a search without an order sorts by. */
export const DEFAULT_OFFER_ORDER: readonly Order[] = [{ field: 'score', dir: 'desc' }];

/** Where a workergroup's workers may be placed: conditions every chosen offer meets. */
export interface WorkerPlacement {
  readonly conditions: readonly Condition[];
}

/** The placement used when a workergroup names none: verified machines. */
export const DEFAULT_PLACEMENT: WorkerPlacement = {
  conditions: [
    { field: 'verified', op: 'eq', value: true },
    { field: 'rentable', op: 'eq', value: true },
  ],
};

/** Check that a placement only names offer fields (a dialect compiled it; a stored one is trusted). */
export function checkPlacement(p: WorkerPlacement): WorkerPlacement {
  for (const c of p.conditions) {
    if (offerFieldType(c.field) === undefined) throw new GantryError('INVALID_QUERY', `A placement may not filter on '${c.field}'.`, { field: c.field });
  }
  return p;
}

/**
 * The search a worker is recruited with: the placement, the GPU memory floor, the smallest chunk
 * first and the cheapest of those.
 */
export function placementSearch(p: WorkerPlacement, gpuRamGb: number | null): OfferSearch {
  const floor: Condition[] = gpuRamGb !== null ? [{ field: 'gpuRamMb', op: 'gte', value: gpuRamGb * 1000 }] : [];
  return {
    conditions: [...p.conditions, ...floor],
    order: [
      { field: 'numGpus', dir: 'asc' },
      { field: 'dphTotal', dir: 'asc' },
    ],
    limit: null,
    type: 'on-demand',
    allocatedStorageGb: DEFAULT_ALLOCATED_STORAGE_GB,
  };
}
