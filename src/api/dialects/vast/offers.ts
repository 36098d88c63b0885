import { GantryError } from '../../../domain/errors.js';
import type { Offer, OfferType } from '../../../domain/offer/offer.js';
import {
  DEFAULT_ALLOCATED_STORAGE_GB,
  MAX_OFFER_LIMIT,
  offerFieldType,
  type OfferField,
  type OfferSearch,
  type WorkerPlacement,
} from '../../../domain/offer/search.js';
import { parseCondition, parseOrder, type Condition, type Order, type Scalar } from '../../../domain/query/filter.js';
import { numberOf } from '../../../domain/number.js';
import { parseSearchQuery } from './query-language.js';
import { showValue } from '../../../domain/show.js';

/** Vast's offer field names and the engine field each one reads. Aliases (bundle_id, reliability2) read the same field. */
export const VAST_OFFER_FIELDS: Readonly<Record<string, OfferField>> = {
  id: 'id',
  ask_contract_id: 'id',
  bundle_id: 'id',
  machine_id: 'machineId',
  host_id: 'hostId',
  gpu_name: 'gpuName',
  gpu_arch: 'gpuArch',
  num_gpus: 'numGpus',
  gpu_ram: 'gpuRamMb',
  gpu_total_ram: 'gpuTotalRamMb',
  gpu_frac: 'gpuFrac',
  gpu_display_active: 'gpuDisplayActive',
  gpu_declared: 'gpuDeclared',
  compute_cap: 'computeCap',
  total_flops: 'totalFlops',
  cpu_name: 'cpuName',
  cpu_arch: 'cpuArch',
  cpu_cores: 'cpuCores',
  cpu_cores_effective: 'cpuCoresEffective',
  cpu_ram: 'cpuRamMb',
  disk_space: 'diskSpaceGb',
  dph_total: 'dphTotal',
  dph_base: 'dphBase',
  storage_cost: 'storageCostPerGbMonth',
  inet_up: 'inetUpMbps',
  inet_down: 'inetDownMbps',
  inet_up_cost: 'inetUpCostPerGb',
  inet_down_cost: 'inetDownCostPerGb',
  min_bid: 'minBid',
  reliability: 'reliability',
  reliability2: 'reliability',
  verified: 'verified',
  rentable: 'rentable',
  rented: 'rentedByCaller',
  external: 'external',
  static_ip: 'staticIp',
  direct_port_count: 'directPortCount',
  dlperf: 'dlperf',
  dlperf_per_dphtotal: 'dlperfPerDphTotal',
  flops_per_dphtotal: 'flopsPerDphTotal',
  geolocation: 'geolocation',
  cuda_max_good: 'cudaMaxGood',
  driver_version: 'driverVersion',
  hostname: 'hostname',
  os_version: 'osVersion',
  score: 'score',
};

/** The Vast name each engine field is shown under (the first name listed above). */
const VAST_NAME_OF = new Map<OfferField, string>();
for (const [vast, field] of Object.entries(VAST_OFFER_FIELDS)) if (!VAST_NAME_OF.has(field)) VAST_NAME_OF.set(field, vast);

const engineField = (vast: string): OfferField | undefined =>
  Object.prototype.hasOwnProperty.call(VAST_OFFER_FIELDS, vast) ? VAST_OFFER_FIELDS[vast] : undefined;

/** One offer as Vast's clients read a search result row. */
export function vastOfferRow(o: Offer): Record<string, string | number | boolean | null> {
  return {
    id: o.id,
    ask_contract_id: o.id,
    bundle_id: o.id,
    machine_id: o.machineId,
    host_id: o.hostId,
    hostname: o.hostname,
    gpu_name: o.gpuName,
    gpu_arch: o.gpuArch,
    num_gpus: o.numGpus,
    gpu_ram: o.gpuRamMb,
    gpu_total_ram: o.gpuTotalRamMb,
    gpu_frac: o.gpuFrac,
    gpu_display_active: o.gpuDisplayActive,
    gpu_declared: o.gpuDeclared,
    compute_cap: o.computeCap,
    total_flops: o.totalFlops,
    cpu_name: o.cpuName,
    cpu_arch: o.cpuArch,
    cpu_cores: o.cpuCores,
    cpu_cores_effective: o.cpuCoresEffective,
    cpu_ram: o.cpuRamMb,
    disk_space: o.diskSpaceGb,
    dph_base: o.dphBase,
    dph_total: o.dphTotal,
    storage_cost: o.storageCostPerGbMonth,
    storage_total_cost: o.storageTotalPerHour,
    inet_up: o.inetUpMbps,
    inet_down: o.inetDownMbps,
    inet_up_cost: o.inetUpCostPerGb,
    inet_down_cost: o.inetDownCostPerGb,
    min_bid: o.minBid,
    is_bid: o.isBid,
    reliability: o.reliability,
    reliability2: o.reliability,
    verified: o.verified,
    verification: o.verified ? 'verified' : 'unverified',
    rentable: o.rentable,
    rented: o.rentedByCaller,
    external: o.external,
    static_ip: o.staticIp,
    direct_port_count: o.directPortCount,
    end_date: o.endDate === null ? null : o.endDate / 1000,
    dlperf: o.dlperf,
    dlperf_per_dphtotal: o.dlperfPerDphTotal,
    flops_per_dphtotal: o.flopsPerDphTotal,
    geolocation: o.geolocation,
    cuda_max_good: o.cudaMaxGood,
    driver_version: o.driverVersion,
    os_version: o.osVersion,
    public_ipaddr: o.publicIp,
    score: o.score,
  };
}

const NUMBER = { type: 'number' } as const;
const NUMBER_OR_NULL = { type: ['number', 'null'] } as const;
const STRING = { type: 'string' } as const;
const BOOLEAN = { type: 'boolean' } as const;

/**
 * The JSON schema of a search answer. Searches return up to thousands of rows of this one shape;
 * fastify compiles a serializer from it, much faster than JSON.stringify on such arrays.
 */
export const VAST_SEARCH_ANSWER_SCHEMA = {
  type: 'object',
  properties: {
    offers: {
      type: 'array',
      items: {
        type: 'object',
        properties: {
          ...Object.fromEntries(
            ['id', 'ask_contract_id', 'bundle_id', 'machine_id', 'host_id', 'num_gpus', 'gpu_ram', 'gpu_total_ram', 'gpu_frac', 'cpu_cores']
              .concat(['cpu_cores_effective', 'cpu_ram', 'disk_space', 'dph_base', 'dph_total', 'storage_cost', 'storage_total_cost', 'inet_up'])
              .concat(['inet_down', 'inet_up_cost', 'inet_down_cost', 'min_bid', 'reliability', 'reliability2', 'direct_port_count', 'dlperf'])
              .concat(['dlperf_per_dphtotal', 'flops_per_dphtotal', 'score'])
              .map((k) => [k, NUMBER]),
          ),
          ...Object.fromEntries(['compute_cap', 'total_flops', 'end_date', 'cuda_max_good'].map((k) => [k, NUMBER_OR_NULL])),
          ...Object.fromEntries(
            ['hostname', 'gpu_name', 'gpu_arch', 'cpu_name', 'cpu_arch', 'verification', 'geolocation', 'os_version', 'public_ipaddr'].map((k) => [k, STRING]),
          ),
          driver_version: { type: ['string', 'null'] },
          ...Object.fromEntries(
            ['gpu_display_active', 'gpu_declared', 'is_bid', 'verified', 'rentable', 'rented', 'external', 'static_ip'].map((k) => [k, BOOLEAN]),
          ),
        },
      },
    },
  },
} as const;

function bad(message: string): GantryError {
  return new GantryError('INVALID_QUERY', message);
}

/** Vast's filter object (`{"num_gpus": {"gte": 2}, ...}`) as engine conditions; unknown fields are ignored (clients send many). */
function conditionsOf(filters: Readonly<Record<string, unknown>>, skip: ReadonlySet<string>): Condition[] {
  const out: Condition[] = [];
  for (const [key, spec] of Object.entries(filters)) {
    const field = skip.has(key) ? undefined : engineField(key);
    if (field === undefined) continue;
    // Parsed under the Vast name, so a wrong value is reported as the client named it.
    for (const c of parseCondition(key, offerFieldType(field) ?? 'string', withoutAny(spec))) out.push({ ...c, field });
  }
  return out;
}

/** Vast's "no constraint": `rented=any` arrives as `{"eq": "any"}` (the SDK and `self-test machine` send it). */
function withoutAny(spec: unknown): unknown {
  if (spec === 'any') return null;
  if (spec === null || typeof spec !== 'object' || Array.isArray(spec)) return spec;
  return Object.fromEntries(Object.entries(spec).filter(([op, v]) => !(op === 'eq' && v === 'any')));
}

/** Keys of the search body that are not filters. */
const NON_FILTER_KEYS: ReadonlySet<string> = new Set(['order', 'type', 'limit', 'allocated_storage', 'select_cols', 'q', 'disable_bundling', 'extra_ids']);
const OFFER_TYPES: Readonly<Record<string, OfferType>> = {
  'on-demand': 'on-demand',
  ondemand: 'on-demand',
  bid: 'bid',
  interruptible: 'bid',
  reserved: 'reserved',
};

/**
 * Vast's search body: the filters themselves (or wrapped as `{"q": {...}}` by `PUT /search/asks/`),
 * plus order, type, limit and allocated_storage. Unknown operators and wrongly typed values are errors.
 */
export function parseVastSearch(body: unknown): OfferSearch {
  if (body === undefined || body === null) body = {};
  if (typeof body !== 'object' || Array.isArray(body)) throw bad('The search body must be a JSON object of filters.');
  const b = body as Record<string, unknown>;
  const filters = b.q !== undefined && typeof b.q === 'object' && b.q !== null && !Array.isArray(b.q) ? (b.q as Record<string, unknown>) : b;
  const conditions = conditionsOf(filters, NON_FILTER_KEYS);
  const rawType = filters.type ?? b.type ?? 'on-demand';
  const type = typeof rawType === 'string' && Object.hasOwn(OFFER_TYPES, rawType) ? OFFER_TYPES[rawType] : undefined;
  if (type === undefined) throw bad(`'type' must be one of on-demand, bid, interruptible, reserved; got ${showValue(rawType)}.`);
  const rawLimit = filters.limit ?? b.limit;
  let limit: number | null = null;
  if (rawLimit !== undefined && rawLimit !== null) {
    const n = numberOf(rawLimit);
    if (!Number.isInteger(n) || n < 0) throw bad(`'limit' must be a non-negative integer.`);
    limit = Math.min(n, MAX_OFFER_LIMIT);
  }
  const rawStorage = filters.allocated_storage ?? b.allocated_storage;
  let allocatedStorageGb = DEFAULT_ALLOCATED_STORAGE_GB;
  if (rawStorage !== undefined && rawStorage !== null) {
    const n = numberOf(rawStorage);
    if (!Number.isFinite(n) || n < 0) throw bad(`'allocated_storage' must be a non-negative number of GB.`);
    allocatedStorageGb = n;
  }
  // An order on a field Gantry does not model sorts nothing (every row ties), as before it was mapped.
  const order: Order[] = parseOrder(filters.order ?? b.order).map((o) => ({ field: engineField(o.field) ?? `vast:${o.field}`, dir: o.dir }));
  return { conditions, order, limit, type, allocatedStorageGb };
}

/** A workergroup's `search_params` (the CLI's search language) compiled into where its workers may run. */
export function vastPlacement(text: string): WorkerPlacement {
  return { conditions: conditionsOf(parseSearchQuery(text), new Set()) };
}

/** Memory fields the search language gives in GB (and the engine keeps in MB). */
const GB_FIELDS: ReadonlySet<OfferField> = new Set(['gpuRamMb', 'cpuRamMb', 'gpuTotalRamMb']);
const SYMBOL: Readonly<Record<Condition['op'], string>> = { eq: '=', neq: '!=', gt: '>', gte: '>=', lt: '<', lte: '<=', in: ' in ', notin: ' notin ' };

function valueText(field: OfferField, v: Scalar): string {
  if (typeof v === 'number') return String(GB_FIELDS.has(field) ? v / 1000 : v);
  if (typeof v === 'string' && /[\s[\]'"]/.test(v)) return JSON.stringify(v);
  return String(v);
}

/** A placement back in the search language, as `search_params` is shown (`num_gpus=1 gpu_ram>=20`). */
export function placementText(p: WorkerPlacement): string {
  return p.conditions
    .map((c) => {
      const field = c.field as OfferField;
      const v = Array.isArray(c.value) ? `[${(c.value as readonly Scalar[]).map((x) => valueText(field, x)).join(',')}]` : valueText(field, c.value as Scalar);
      return `${VAST_NAME_OF.get(field) ?? c.field}${SYMBOL[c.op]}${v}`;
    })
    .join(' ');
}

/**
 * A template's `extra_filters` (Vast's JSON form) as a workergroup placement; null when none applies.
 * `rented` is left out: it is about the caller's own machines in a search, not where workers may go.
 */
export function templatePlacement(filters: Readonly<Record<string, unknown>>): WorkerPlacement | null {
  const conditions = conditionsOf(Object.fromEntries(Object.entries(filters).filter(([k]) => k !== 'rented')), NON_FILTER_KEYS);
  return conditions.length > 0 ? { conditions } : null;
}
