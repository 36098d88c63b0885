import type { VolumeAttachRequest } from '../../domain/volume/volume.js';
import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import { cleanupMachine } from './cleanup-machine.js';
import { refuseNetworkStorage, type NetworkStorageVerb } from './network-volumes.js';
import { takeSnapshot, type SnapshotRequest } from './snapshot.js';
import { listVolumeOffers, searchVolumeOffers, unlistVolumeOffer, type VolumeListing } from './volume-offers.js';
import { cloneVolume, createVolume, deleteVolume, listVolumes, volumeForCreate } from './volumes.js';

/** Volumes, volume offers, snapshots and machine cleanup, bound to one context. */
export function volumeUseCases(ctx: ControlContext) {
  return {
    listVolumeOffers: (p: Principal, machineIds: readonly number[], l: VolumeListing) => listVolumeOffers(ctx, p, machineIds, l),
    unlistVolumeOffer: (p: Principal, offerId: number) => unlistVolumeOffer(ctx, p, offerId),
    searchVolumeOffers: (p: Principal) => searchVolumeOffers(ctx, p),
    createVolume: (p: Principal, r: { offerId: number; sizeGb: number; name: string | null }) => createVolume(ctx, p, r),
    listVolumes: (p: Principal) => listVolumes(ctx, p),
    deleteVolume: (p: Principal, id: number) => deleteVolume(ctx, p, id),
    cloneVolume: (p: Principal, r: { sourceId: number; offerId: number; sizeGb: number | null }) => cloneVolume(ctx, p, r),
    volumeForCreate: (p: Principal, r: VolumeAttachRequest, machineId: number) => volumeForCreate(ctx, p, r, machineId),
    takeSnapshot: (p: Principal, id: number, r: SnapshotRequest) => takeSnapshot(ctx, p, id, r),
    cleanupMachine: (p: Principal, machineId: number) => cleanupMachine(ctx, p, machineId),
    refuseNetworkStorage: (p: Principal, verb: NetworkStorageVerb): never => refuseNetworkStorage(p, verb),
  };
}

export type VolumeUseCases = ReturnType<typeof volumeUseCases>;
