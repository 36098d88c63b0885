import type { CatalogTables } from './catalog-rows.js';
import type { MlTables } from './ml-rows.js';
import type { ServerlessTables } from './serverless-schema.js';
import type { SeriesTables } from './series-schema.js';
import type { TemplateTables } from './template-rows.js';
import type { VolumeTables } from './volume-rows.js';
import type { Generated } from 'kysely';

/** Times are epoch milliseconds; booleans are 0/1 integers so both databases read them alike. */
export interface AccountTable {
  id: Generated<number>;
  username: string;
  email: string;
  is_admin: number;
  balance: number;
  created_at: number;
  parent_id: number | null;
  is_team: number;
  host_only: number;
  deleted_at: number | null;
  /** Set by Vast's `set user`; null until then (0019). */
  fullname: string | null;
}

export interface ApiKeyTable {
  id: Generated<number>;
  account_id: number;
  key_hash: string;
  name: string;
  /** 'full' for an account key; 'instance' for a key limited to one instance (CONTAINER_API_KEY). */
  scope: string;
  instance_id: number | null;
  created_at: number;
  revoked_at: number | null;
  permissions_json: string | null;
  member_id: number | null;
}

export interface MachineTable {
  id: Generated<number>;
  owner_id: number;
  /** Stable identity of the host that registered it (one row per host). */
  host_key: string;
  hostname: string;
  gpu_name: string;
  num_gpus: number;
  gpu_ram_mb: number;
  gpu_declared: number;
  compute_cap: number | null;
  cpu_name: string;
  cpu_arch: string;
  cpu_cores: number;
  cpu_ram_mb: number;
  disk_space_gb: number;
  driver_version: string | null;
  cuda_max_good: number | null;
  verified: number;
  listed: number;
  price_gpu: number;
  price_disk: number;
  price_inetu: number;
  price_inetd: number;
  min_bid: number;
  min_chunk: number;
  public_ip: string;
  geolocation: string;
  reliability: number;
  inet_up: number;
  inet_down: number;
  port_range_start: number;
  port_range_end: number;
  os_version: string;
  /** Listing ends at this time (ms); null: open-ended. */
  end_date: number | null;
  discount_rate: number | null;
  /** Scheduled maintenance window [start, end) in ms; offers are hidden while it is open. */
  maint_start: number | null;
  maint_end: number | null;
  maint_reason: string | null;
  /** Runtime the host's agent uses ('process' or 'docker'). */
  runtime: string | null;
  /** How the host isolates tenants ('sandboxed', 'shared', 'unsafe-shared'); null: not reported. */
  isolation: string | null;
  /** JSON list: utilisation (percent) of each GPU by index, from the last heartbeat. */
  gpu_utils: string | null;
  /** JSON list: ports of its range its agent last found held by another program (skipped when allocating). */
  busy_ports: string | null;
  last_seen_at: number;
  created_at: number;
  /** Set by `delete machine`: the row stays for the history that names it, hidden everywhere else. */
  deleted_at: number | null;
}

/** A host's sweep (decisions 017, 022), keyed by its machine's id: made by its first claim. */
export interface HostSweepTable {
  id: number;
  /** The sweep's lease: one replica at a time lists this host's workloads. */
  lease_owner: string | null;
  lease_token: string | null;
  lease_expires_at: number | null;
  /** When a sweep last compared the host's workloads with its instances; null: never. */
  last_swept_at: number | null;
}

export interface InstanceTable {
  id: Generated<number>;
  account_id: number;
  machine_id: number;
  num_gpus: number;
  /** JSON list of the GPU indices this instance rents; kept while stopped so start asks for the same GPUs. */
  gpu_indices: string;
  image: string;
  env_json: string;
  ports_json: string;
  onstart: string | null;
  entrypoint: string | null;
  args_json: string | null;
  runtype: string;
  label: string | null;
  disk_gb: number;
  offer_type: string;
  bid_price: number | null;
  dph_base: number;
  storage_cost: number;
  created_at: number;
  target: string;
  generation: number;
  pending_op: string | null;
  status: string;
  observed_generation: number;
  status_msg: string | null;
  exit_code: number | null;
  start_date: number | null;
  status_changed_at: number;
  stop_requested_at: number | null;
  destroyed_at: number | null;
  last_processed_at: number;
  lease_owner: string | null;
  lease_token: string | null;
  lease_expires_at: number | null;
  workergroup_id: number | null;
  endpoint_id: number | null;
  gpu_meter_since: number | null;
  disk_meter_since: number | null;
  /** 0015 (migration-bids.ts): waiting for GPUs, placed vCPUs/RAM, reserved deposit. */
  gpu_wait_since: number | null;
  cpu_cores: number | null;
  ram_mb: number | null;
  deposit: Generated<number>;
  deposit_discount: number | null;
  /** 0020 (migration-instance-template.ts): the template it was made or last updated from. */
  template_id: number | null;
  template_hash_id: string | null;
  template_name: string | null;
}

export interface CpuAllocationTable {
  instance_id: number;
  machine_id: number;
  cpu_cores: number;
  ram_mb: number;
}

export interface GpuAllocationTable {
  machine_id: number;
  gpu_index: number;
  instance_id: number;
}

export interface PortAllocationTable {
  machine_id: number;
  host_port: number;
  instance_id: number;
  container_port: number;
  proto: string;
}

export interface ResultTable {
  token: string;
  content: string;
  expires_at: number;
  /** The account that asked for it (0035); null for a replica's answer to another, and for results older than it. */
  account_id: number | null;
}

/** A call for the replica that holds a host's agent session (`HostCall`); taken (deleted) by it. */
export interface HostCallTable {
  token: string;
  machine_id: number;
  op: string;
  /** JSON. */
  args: string;
  expires_at: number;
}

export interface HostTokenTable {
  id: Generated<number>;
  account_id: number;
  token_hash: string;
  name: string;
  machine_id: number | null;
  created_at: number;
  revoked_at: number | null;
}

/** Latest usage an agent reported for an instance (one row per instance, overwritten). */
export interface InstanceUsageTable {
  instance_id: number;
  cpu_util: number;
  mem_usage_mb: number;
  disk_usage_mb: number;
  updated_at: number;
}

/** Values every replica must share (the routing signature key). */
export interface SettingTable {
  key: string;
  value: string;
}

export interface TeamRoleTable {
  id: Generated<number>;
  team_id: number;
  name: string;
  permissions_json: string;
}

export interface TeamMemberTable {
  team_id: number;
  account_id: number;
  role: string;
  created_at: number;
}

export interface SecretTable {
  id: Generated<number>;
  account_id: number;
  name: string;
  sealed: string;
  key_id: string;
  created_at: number;
  updated_at: number;
}

export interface SshKeyTable {
  id: Generated<number>;
  account_id: number;
  public_key: string;
  created_at: number;
  deleted_at: number | null;
}

export interface InstanceSshKeyTable {
  instance_id: number;
  ssh_key_id: number;
}

/** One settled stretch of one meter: the renter pays `amount`, the machine's owner earns it. */
export interface ChargeTable {
  id: Generated<number>;
  account_id: number;
  host_account_id: number;
  machine_id: number;
  instance_id: number;
  kind: string;
  start_at: number;
  end_at: number;
  rate: number;
  amount: number;
}

export interface TransferTable {
  id: Generated<number>;
  from_account_id: number | null;
  to_account_id: number;
  amount: number;
  note: string | null;
  at: number;
}

export interface AuditTable {
  id: Generated<number>;
  at: number;
  account_id: number | null;
  actor_id: number | null;
  key_id: number | null;
  method: string;
  path: string;
  route: string;
  status_code: number;
  error_code: string | null;
  ip: string;
  request_id: string;
}

export interface RateBucketTable {
  bucket: string;
  tokens: number;
  at: number;
}

/** An AI Core resource group of an account (`default` has a row only once its labels were set). */
export interface ResourceGroupTable {
  account_id: number;
  group_id: string;
  labels_json: string;
  created_at: number;
}

export interface Database extends CatalogTables, MlTables, ServerlessTables, SeriesTables, TemplateTables, VolumeTables {
  resource_groups: ResourceGroupTable;
  team_roles: TeamRoleTable;
  team_members: TeamMemberTable;
  secrets: SecretTable;
  ssh_keys: SshKeyTable;
  instance_ssh_keys: InstanceSshKeyTable;
  charges: ChargeTable;
  transfers: TransferTable;
  audit_log: AuditTable;
  rate_buckets: RateBucketTable;
  settings: SettingTable;
  host_tokens: HostTokenTable;
  instance_usage: InstanceUsageTable;
  accounts: AccountTable;
  api_keys: ApiKeyTable;
  machines: MachineTable;
  host_sweeps: HostSweepTable;
  instances: InstanceTable;
  gpu_allocations: GpuAllocationTable;
  cpu_allocations: CpuAllocationTable;
  port_allocations: PortAllocationTable;
  results: ResultTable;
  host_calls: HostCallTable;
}
