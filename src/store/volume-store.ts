import type { VolumeMount, VolumeOfferRecord, VolumeRecord } from '../domain/volume/volume.js';

/** A volume linked into an instance, with what a view of the instance shows of it. */
export interface LinkedVolume extends VolumeMount {
  readonly name: string | null;
  readonly sizeGb: number;
}

/** A volume rented from an offer; `cloningUntil`: a clone whose copy is not confirmed yet, given up past this time. */
export interface NewVolume {
  readonly accountId: number;
  readonly offerId: number;
  readonly sizeGb: number;
  readonly name: string | null;
  readonly now: number;
  readonly cloningUntil?: number | null;
}

/** Volume offers (a machine's disk set aside by its host), volumes rented from them, and their links into instances. */
export interface VolumeStore {
  /** The machine's one volume offer, made or updated (size, price, end date) and listed. */
  upsertVolumeOffer(o: {
    machineId: number;
    ownerId: number;
    sizeGb: number;
    priceDiskPerGbMonth: number;
    endDate: number | null;
    now: number;
  }): Promise<VolumeOfferRecord>;
  getVolumeOffer(id: number): Promise<VolumeOfferRecord | undefined>;
  /** Offers by id; `listedOnly` leaves out unlisted ones. */
  listVolumeOffers(o: { listedOnly: boolean; machineId?: number }): Promise<VolumeOfferRecord[]>;
  setVolumeOfferListed(id: number, listed: boolean): Promise<void>;
  /**
   * Rent `sizeGb` of a listed offer: the offer's used space grows in the same statement that checks it
   * (VOLUME_SPACE_EXHAUSTED when it would pass the offer's size, VOLUME_OFFER_NOT_FOUND when not listed).
   */
  createVolume(v: NewVolume): Promise<VolumeRecord>;
  /**
   * The host confirmed a clone's copy: an ordinary volume from now, billed from `now`. False when it is no longer
   * a clone under way (given up past its bound, or deleted).
   */
  confirmVolumeClone(id: number, now: number): Promise<boolean>;
  /** Live clones never confirmed whose bound (`cloningUntil`) is at or before `now`. */
  expiredVolumeClones(now: number): Promise<VolumeRecord[]>;
  /**
   * Delete a clone still unconfirmed past its bound and give its space back to the offer; false when it is not
   * (confirmed, deleted, or given up by another replica meanwhile).
   */
  giveUpVolumeClone(id: number, now: number): Promise<boolean>;
  /** A live (not deleted) volume. */
  getVolume(id: number): Promise<VolumeRecord | undefined>;
  /** Live volumes of an account (null: all), optionally of one machine, by id. */
  listVolumes(o: { accountId: number | null; machineId?: number }): Promise<VolumeRecord[]>;
  /** Mark deleted and give its space back to the offer; VOLUME_IN_USE while an instance that is not destroyed links it. */
  deleteVolume(id: number, now: number): Promise<void>;
  /** Charge every live volume's storage up to `now` (renter → the offer's host), once per stretch across replicas. */
  settleVolumeMeters(now: number): Promise<void>;
  /** Volumes linked into an instance, with their mount paths. */
  instanceVolumes(instanceId: number): Promise<VolumeMount[]>;
  /** Live volumes linked into each of these instances (by volume id); instances with none are absent. */
  linkedVolumes(instanceIds: readonly number[]): Promise<Map<number, LinkedVolume[]>>;
  /** Ids of volumes of a machine that were deleted or never existed among `ids`: data the host may remove. */
  deadVolumeIds(machineId: number, ids: readonly number[]): Promise<number[]>;
}
