import type { Generated, Selectable } from 'kysely';
import type { VolumeOfferRecord, VolumeRecord } from '../../domain/volume/volume.js';

/** Times are epoch ms; `listed` is 0/1. One offer per machine. */
export interface VolumeOfferTable {
  id: Generated<number>;
  machine_id: number;
  owner_id: number;
  size_gb: number;
  used_gb: number;
  price_disk: number;
  end_date: number | null;
  listed: number;
  created_at: number;
}

export interface VolumeTable {
  id: Generated<number>;
  account_id: number;
  offer_id: number;
  machine_id: number;
  name: string | null;
  size_gb: number;
  price_disk: number;
  created_at: number;
  deleted_at: number | null;
  /** Billed up to here (epoch ms): storage is charged from creation (a clone: from its confirmation) until delete. */
  meter_since: number;
  /** A clone not confirmed yet: given up past this (epoch ms, 0038); null otherwise. */
  cloning_until: number | null;
}

export interface InstanceVolumeTable {
  instance_id: number;
  volume_id: number;
  mount_path: string;
}

export interface VolumeTables {
  volume_offers: VolumeOfferTable;
  volumes: VolumeTable;
  instance_volumes: InstanceVolumeTable;
}

const n = (v: number | string): number => Number(v);

export function toVolumeOffer(r: Selectable<VolumeOfferTable>): VolumeOfferRecord {
  return {
    id: r.id,
    machineId: r.machine_id,
    ownerId: r.owner_id,
    sizeGb: n(r.size_gb),
    usedGb: n(r.used_gb),
    priceDiskPerGbMonth: n(r.price_disk),
    endDate: r.end_date === null ? null : n(r.end_date),
    listed: r.listed === 1,
    createdAt: n(r.created_at),
  };
}

export function toVolume(r: Selectable<VolumeTable>, instanceIds: readonly number[]): VolumeRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    offerId: r.offer_id,
    machineId: r.machine_id,
    name: r.name,
    sizeGb: n(r.size_gb),
    priceDiskPerGbMonth: n(r.price_disk),
    createdAt: n(r.created_at),
    instanceIds,
    cloningUntil: r.cloning_until === null ? null : n(r.cloning_until),
  };
}
