import { GantryError } from '../errors.js';
import { storagePerHour } from '../offer/offer.js';

/**
 * Volumes: a host sets aside disk space on one machine (a volume offer, `list volume`); a user rents a volume
 * from it (`create volume`, or `--create-volume` on create instance) and links it into instances on that same
 * machine at a mount path. The data stays on the machine across instances until the volume is deleted.
 */

/** Vast's default size of a new volume, in GB (the clients send it when none is given). */
export const DEFAULT_VOLUME_GB = 15;
export const MAX_MOUNT_PATH_CHARS = 512;
export const MAX_VOLUME_NAME_CHARS = 128;

export interface VolumeOfferRecord {
  readonly id: number;
  readonly machineId: number;
  /** The host account that listed it (the machine's owner). */
  readonly ownerId: number;
  readonly sizeGb: number;
  /** GB taken by the offer's live volumes. */
  readonly usedGb: number;
  readonly priceDiskPerGbMonth: number;
  /** Epoch ms after which no new volume is rented from it; null: open-ended. */
  readonly endDate: number | null;
  readonly listed: boolean;
  readonly createdAt: number;
}

export interface VolumeRecord {
  readonly id: number;
  readonly accountId: number;
  readonly offerId: number;
  readonly machineId: number;
  readonly name: string | null;
  readonly sizeGb: number;
  /** The offer's storage price when the volume was rented ($/GB/month), as an instance keeps its disk price. */
  readonly priceDiskPerGbMonth: number;
  readonly createdAt: number;
  /** Instances (not destroyed) the volume is linked into. */
  readonly instanceIds: readonly number[];
  /**
   * A clone whose copy its host has not confirmed yet: the time (epoch ms) past which housekeeping gives it up.
   * Null for every volume whose data is whole (a clone once confirmed).
   */
  readonly cloningUntil: number | null;
}

/** A volume linked into an instance, as the runtime needs it. */
export interface VolumeMount {
  readonly volumeId: number;
  readonly mountPath: string;
}

/** What `volume_info` on create instance asks for: a new volume from an offer, or an existing one. */
export type VolumeAttachRequest =
  | { readonly kind: 'new'; readonly offerId: number; readonly sizeGb: number; readonly name: string | null; readonly mountPath: string }
  | { readonly kind: 'existing'; readonly volumeId: number; readonly mountPath: string };

export function freeGb(o: Pick<VolumeOfferRecord, 'sizeGb' | 'usedGb'>): number {
  return Math.max(0, Math.round((o.sizeGb - o.usedGb) * 1000) / 1000);
}

/** A clone whose copy is not confirmed holds part of its data: nothing may use it until it is. */
export function checkVolumeReady(v: Pick<VolumeRecord, 'id' | 'cloningUntil'>, use: string): void {
  if (v.cloningUntil !== null)
    throw new GantryError(
      'VOLUME_CLONING',
      `Volume ${v.id} is a clone whose copy is not complete yet; it cannot be ${use} until the copy is confirmed (or it is removed if the copy never completes).`,
      { volumeId: v.id },
    );
}

/** `V.<id>`: the name Vast gives a volume (and its copy source syntax). */
export function volumeName(id: number): string {
  return `V.${id}`;
}

/**
 * A mount path: absolute or relative, no `..` or `.` segments, no NUL, not the root itself. Returned with
 * duplicate and trailing slashes removed, so two spellings of one place compare equal.
 */
export function checkMountPath(raw: string): string {
  const bad = (why: string): GantryError =>
    new GantryError('INVALID_ARGUMENT', `mount path ${JSON.stringify(raw.slice(0, 80))}: ${why}.`, { field: 'mount_path' });
  if (raw.length === 0 || raw.length > MAX_MOUNT_PATH_CHARS) throw bad(`must be 1 to ${MAX_MOUNT_PATH_CHARS} characters`);
  if (raw.includes('\0')) throw bad('must not hold a NUL byte');
  const parts = raw.split('/').filter((s) => s !== '');
  if (parts.length === 0) throw bad('must name a folder below the root');
  if (parts.some((s) => s === '..' || s === '.')) throw bad('must not hold "." or ".." segments');
  if (raw.startsWith('/')) {
    // Places the runtime mounts itself: the instance's disk, its meta folder, and the kernel's file systems.
    if (parts.length === 1 && parts[0] === 'workspace') throw bad('must not be /workspace itself, the instance disk (use a folder below it)');
    if (RESERVED_MOUNT_ROOTS.has(parts[0] ?? '')) throw bad(`must not be in /${parts[0]}, which the runtime mounts itself`);
  }
  return (raw.startsWith('/') ? '/' : '') + parts.join('/');
}

/** Top-level folders a volume cannot be bound in: Gantry's meta folder, and what the container engine mounts. */
const RESERVED_MOUNT_ROOTS: ReadonlySet<string> = new Set(['.gantry', 'proc', 'sys', 'dev']);

export function checkVolumeSize(sizeGb: number): number {
  if (!Number.isFinite(sizeGb) || sizeGb <= 0)
    throw new GantryError('INVALID_ARGUMENT', `size must be a positive number of GB, got ${sizeGb}.`, { field: 'size' });
  return sizeGb;
}

export function checkVolumeName(name: string | null): string | null {
  if (name !== null && name.length > MAX_VOLUME_NAME_CHARS)
    throw new GantryError('INVALID_ARGUMENT', `name must be at most ${MAX_VOLUME_NAME_CHARS} characters.`, { field: 'name' });
  return name;
}

/** What a volume costs per hour: storage at its $/GB/month, as an instance's disk is billed. */
export function volumePerHour(v: Pick<VolumeRecord, 'sizeGb' | 'priceDiskPerGbMonth'>): number {
  return storagePerHour({ priceDiskPerGbMonth: v.priceDiskPerGbMonth }, v.sizeGb);
}
