/**
 * Offer fields that a search may filter or order on, with their value types. Values arrive as
 * JSON or as strings (`{"num_gpus":{"gte":"2"}}`) and are coerced by these types.
 * Fields not listed here are ignored in filters, because real clients send many we do not model.
 */
export type FieldType = 'number' | 'boolean' | 'string' | 'version';

export const OFFER_FIELDS: Readonly<Record<string, FieldType>> = {
  id: 'number',
  ask_contract_id: 'number',
  bundle_id: 'number',
  machine_id: 'number',
  host_id: 'number',
  gpu_name: 'string',
  gpu_arch: 'string',
  num_gpus: 'number',
  gpu_ram: 'number',
  gpu_total_ram: 'number',
  gpu_frac: 'number',
  gpu_display_active: 'boolean',
  gpu_declared: 'boolean',
  compute_cap: 'number',
  total_flops: 'number',
  cpu_name: 'string',
  cpu_arch: 'string',
  cpu_cores: 'number',
  cpu_cores_effective: 'number',
  cpu_ram: 'number',
  disk_space: 'number',
  dph_total: 'number',
  dph_base: 'number',
  storage_cost: 'number',
  inet_up: 'number',
  inet_down: 'number',
  inet_up_cost: 'number',
  inet_down_cost: 'number',
  min_bid: 'number',
  reliability: 'number',
  reliability2: 'number',
  verified: 'boolean',
  rentable: 'boolean',
  rented: 'boolean',
  external: 'boolean',
  static_ip: 'boolean',
  direct_port_count: 'number',
  dlperf: 'number',
  dlperf_per_dphtotal: 'number',
  flops_per_dphtotal: 'number',
  geolocation: 'string',
  cuda_max_good: 'number',
  driver_version: 'version',
  hostname: 'string',
  os_version: 'string',
  score: 'number',
};

export function fieldType(name: string): FieldType | undefined {
  return Object.prototype.hasOwnProperty.call(OFFER_FIELDS, name) ? OFFER_FIELDS[name] : undefined;
}

/**
 * Driver versions compare as integers `aaabbbccc` (535.104.05 → 535104005), the form clients send.
 * Returns null when the text is not a version.
 */
export function versionNumber(v: unknown): number | null {
  if (typeof v === 'number' && Number.isFinite(v)) return v;
  if (typeof v !== 'string') return null;
  const t = v.trim();
  if (/^\d+$/.test(t)) return Number(t);
  const m = /^(\d+)(?:\.(\d+))?(?:\.(\d+))?$/.exec(t);
  if (!m) return null;
  return Number(m[1]) * 1_000_000 + Number(m[2] ?? 0) * 1_000 + Number(m[3] ?? 0);
}
