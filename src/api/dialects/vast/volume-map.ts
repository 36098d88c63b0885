import type { MachineRecord } from '../../../domain/machine/machine.js';

import { volumeName, volumePerHour, type VolumeOfferRecord } from '../../../domain/volume/volume.js';
import type { VolumeOfferView } from '../../../control/volumes/volume-offers.js';
import type { VolumeView } from '../../../control/volumes/volumes.js';

const round = (x: number, d = 4): number => Math.round(x * 10 ** d) / 10 ** d;

/** The machine fields Vast shows beside a volume or a volume offer. */
function machineFields(m: MachineRecord | undefined): Record<string, unknown> {
  if (m === undefined) return { machine_id: null };
  return {
    machine_id: m.id,
    host_id: m.ownerId,
    cpu_arch: m.cpuArch,
    cpu_name: m.cpuName,
    cuda_max_good: m.cudaMaxGood,
    driver_version: m.driverVersion,
    gpu_name: m.gpuName,
    geolocation: m.geolocation,
    inet_up: m.inetUpMbps,
    inet_down: m.inetDownMbps,
    reliability: m.reliability,
    reliability2: m.reliability,
    os_version: m.osVersion,
    ubuntu_version: m.osVersion,
    public_ipaddr: m.publicIp,
    verified: m.verified,
    verification: m.verified ? 'verified' : 'unverified',
    static_ip: true,
    disk_name: 'local',
    mobo_name: null,
    online: m.online,
  };
}

/** A row of `search volumes`: the offer's free space, its price and, for `--storage N`, what N GB cost a month. */
export function vastVolumeOfferRow(v: VolumeOfferView, allocatedGb: number, now: number): Record<string, unknown> {
  const o: VolumeOfferRecord = v.offer;
  return {
    ...machineFields(v.machine),
    id: o.id,
    ask_contract_id: o.id,
    bundle_id: o.id,
    disk_space: v.freeGb,
    size_gb: o.sizeGb,
    storage_cost: o.priceDiskPerGbMonth,
    storage_total_cost: round(o.priceDiskPerGbMonth * allocatedGb),
    end_date: o.endDate === null ? null : o.endDate / 1000,
    duration: o.endDate === null ? null : Math.max(0, (o.endDate - now) / 1000),
    external: false,
    datacenter: false,
    cluster_id: null,
    score: v.freeGb,
    rentable: true,
  };
}

/** A row of `show volumes`: what the volume holds, where, since when, and what it costs (storage, like a disk). */
export function vastVolumeRow(v: VolumeView, now: number): Record<string, unknown> {
  const perHour = volumePerHour(v.volume);
  return {
    ...machineFields(v.machine),
    id: v.volume.id,
    volume_name: volumeName(v.volume.id),
    label: v.volume.name,
    name: v.volume.name,
    type: 'local_volume',
    disk_space: v.volume.sizeGb,
    // A clone whose copy is not confirmed holds part of its data: not ready, and not linkable (VOLUME_CLONING).
    status: v.volume.cloningUntil !== null ? 'creating' : v.volume.instanceIds.length > 0 ? 'in_use' : 'available',
    instances: v.volume.instanceIds,
    start_date: v.volume.createdAt / 1000,
    storage_cost: v.volume.priceDiskPerGbMonth,
    storage_cost_per_hour: round(perHour, 6),
    storage_total_cost: v.volume.cloningUntil !== null ? 0 : round((perHour * Math.max(0, now - v.volume.createdAt)) / 3_600_000, 6),
    cluster_id: null,
  };
}
