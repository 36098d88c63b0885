import type { Selectable } from 'kysely';
import type { PortSpec } from '../../domain/instance/env.js';
import { isInstanceStatus, isInstanceTarget } from '../../domain/instance/status.js';
import type { OfferType } from '../../domain/offer/offer.js';
import type { NewInstance } from '../store.js';
import type { AccountTable, ApiKeyTable, InstanceTable, MachineTable } from './schema.js';
import type { Insertable } from 'kysely';
import type { AccountRecord, ApiKeyRecord } from '../../domain/account/records.js';
import type { InstanceRecord, PortBinding } from '../../domain/instance/instance.js';
import type { StoredPort } from './allocations.js';
import { isMachineIsolation, type MachineRecord } from '../../domain/machine/machine.js';

/** Row ↔ record mapping, kept apart so the repositories read as queries only. */
export const ONLINE_WINDOW_MS = 60_000;

export function toAccount(r: Selectable<AccountTable>): AccountRecord {
  return {
    id: r.id,
    username: r.username,
    email: r.email,
    isAdmin: r.is_admin === 1,
    balance: r.balance,
    createdAt: r.created_at,
    parentId: r.parent_id,
    isTeam: r.is_team === 1,
    hostOnly: r.host_only === 1,
    deletedAt: r.deleted_at,
    fullname: r.fullname,
  };
}

export function toApiKey(r: Selectable<ApiKeyTable>): ApiKeyRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    scope: r.scope === 'instance' ? 'instance' : 'full',
    instanceId: r.instance_id,
    permissions: parseJson<unknown>(r.permissions_json, null),
    memberId: r.member_id,
    createdAt: r.created_at,
  };
}

export function toMachine(r: Selectable<MachineTable>, now: number, onlineWindowMs: number): MachineRecord {
  return {
    id: r.id,
    ownerId: r.owner_id,
    hostKey: r.host_key,
    hostname: r.hostname,
    gpuName: r.gpu_name,
    numGpus: r.num_gpus,
    gpuRamMb: r.gpu_ram_mb,
    gpuDeclared: r.gpu_declared === 1,
    computeCap: r.compute_cap,
    cpuName: r.cpu_name,
    cpuArch: r.cpu_arch,
    cpuCores: r.cpu_cores,
    cpuRamMb: r.cpu_ram_mb,
    diskSpaceGb: r.disk_space_gb,
    driverVersion: r.driver_version,
    cudaMaxGood: r.cuda_max_good,
    verified: r.verified === 1,
    listed: r.listed === 1 && (r.end_date === null || now < r.end_date),
    online: now - r.last_seen_at <= onlineWindowMs,
    priceGpuPerHour: r.price_gpu,
    priceDiskPerGbMonth: r.price_disk,
    priceInetUpPerGb: r.price_inetu,
    priceInetDownPerGb: r.price_inetd,
    minBidPerGpuHour: r.min_bid,
    minChunk: r.min_chunk,
    publicIp: r.public_ip,
    geolocation: r.geolocation,
    reliability: r.reliability,
    inetUpMbps: r.inet_up,
    inetDownMbps: r.inet_down,
    directPortCount: r.port_range_end - r.port_range_start + 1,
    osVersion: r.os_version,
    endDate: r.end_date,
    discountRate: r.discount_rate,
    maintenance: r.maint_start !== null && r.maint_end !== null ? { start: r.maint_start, end: r.maint_end, reason: r.maint_reason } : null,
    inMaintenance: r.maint_start !== null && r.maint_end !== null && now >= r.maint_start && now < r.maint_end,
    runtime: r.runtime,
    isolation: isMachineIsolation(r.isolation) ? r.isolation : null,
    gpuUtils: r.gpu_utils === null ? null : (JSON.parse(r.gpu_utils) as number[]),
    busyPorts: parseJson<number[]>(r.busy_ports, []),
    portRangeStart: r.port_range_start,
    portRangeEnd: r.port_range_end,
    lastSeenAt: r.last_seen_at,
    createdAt: r.created_at,
  };
}

export function parseJson<T>(text: string | null, fallback: T): T {
  if (text === null) return fallback;
  try {
    return JSON.parse(text) as T;
  } catch {
    return fallback;
  }
}

export function toInstance(r: Selectable<InstanceTable>, stored: readonly StoredPort[]): InstanceRecord {
  if (!isInstanceStatus(r.status) || !isInstanceTarget(r.target)) throw new Error(`instance ${r.id} has a corrupt state (${r.target}/${r.status})`);
  return {
    id: r.id,
    accountId: r.account_id,
    machineId: r.machine_id,
    numGpus: r.num_gpus,
    gpuIndices: parseJson<number[]>(r.gpu_indices, []),
    image: r.image,
    env: parseJson<Record<string, string>>(r.env_json, {}),
    requestedPorts: parseJson<PortSpec[]>(r.ports_json, []),
    ports: stored.filter((p): p is PortBinding => p.proto !== 'ssh'),
    sshPort: stored.find((p) => p.proto === 'ssh')?.hostPort ?? null,
    onstart: r.onstart,
    entrypoint: r.entrypoint,
    args: parseJson<string[] | null>(r.args_json, null),
    runtype: r.runtype,
    label: r.label,
    diskGb: r.disk_gb,
    offerType: r.offer_type as OfferType,
    bidPrice: r.bid_price,
    dphBase: r.dph_base,
    storageCost: r.storage_cost,
    createdAt: r.created_at,
    target: r.target,
    generation: r.generation,
    pendingOp: r.pending_op === 'reboot' || r.pending_op === 'recycle' ? r.pending_op : null,
    status: r.status,
    observedGeneration: r.observed_generation,
    statusMsg: r.status_msg,
    exitCode: r.exit_code,
    startDate: r.start_date,
    statusChangedAt: r.status_changed_at,
    stopRequestedAt: r.stop_requested_at,
    destroyedAt: r.destroyed_at,
    lastProcessedAt: r.last_processed_at,
    leaseOwner: r.lease_owner,
    leaseToken: r.lease_token,
    leaseExpiresAt: r.lease_expires_at,
    workergroupId: r.workergroup_id,
    endpointId: r.endpoint_id,
    gpuWaitSince: r.gpu_wait_since,
    cpuCores: r.cpu_cores,
    ramMb: r.ram_mb,
    deposit: r.deposit,
    depositDiscount: r.deposit_discount,
    template: r.template_id === null || r.template_hash_id === null ? null : { id: r.template_id, hashId: r.template_hash_id, name: r.template_name },
  };
}

/** The row of a new instance: generation 1 not yet observed, status `created`. */
export function newInstanceRow(n: NewInstance, gpus: readonly number[]): Insertable<InstanceTable> {
  return {
    account_id: n.accountId,
    machine_id: n.machineId,
    num_gpus: n.numGpus,
    gpu_indices: JSON.stringify(gpus),
    image: n.image,
    env_json: JSON.stringify(n.env),
    ports_json: JSON.stringify(n.requestedPorts),
    onstart: n.onstart,
    entrypoint: n.entrypoint,
    args_json: n.args === null ? null : JSON.stringify(n.args),
    runtype: n.runtype,
    label: n.label,
    disk_gb: n.diskGb,
    offer_type: n.offerType,
    bid_price: n.bidPrice,
    dph_base: n.dphBase,
    storage_cost: n.storageCost,
    created_at: n.now,
    target: n.target,
    generation: 1,
    pending_op: null,
    status: 'created',
    observed_generation: 0,
    status_msg: null,
    exit_code: null,
    start_date: null,
    status_changed_at: n.now,
    stop_requested_at: null,
    destroyed_at: null,
    last_processed_at: 0,
    lease_owner: null,
    lease_token: null,
    lease_expires_at: null,
    workergroup_id: n.worker?.workergroupId ?? null,
    endpoint_id: n.worker?.endpointId ?? null,
    // Storage bills from creation; compute once the runtime reports the workload running.
    gpu_meter_since: null,
    disk_meter_since: n.now,
    cpu_cores: n.cpuCores ?? null,
    ram_mb: n.ramMb ?? null,
    template_id: n.template?.id ?? null,
    template_hash_id: n.template?.hashId ?? null,
    template_name: n.template?.name ?? null,
  };
}
