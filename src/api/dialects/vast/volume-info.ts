import { GantryError } from '../../../domain/errors.js';
import { showValue } from '../../../domain/show.js';
import { checkMountPath, DEFAULT_VOLUME_GB, type VolumeAttachRequest } from '../../../domain/volume/volume.js';

const wrong = (field: string, what: string, v: unknown): GantryError =>
  new GantryError('INVALID_ARGUMENT', `'volume_info.${field}' must be ${what}, got ${showValue(v)}.`, { field: `volume_info.${field}` });

/**
 * Vast's `volume_info` on create instance (`--create-volume OFFER` or `--link-volume VOLUME`, with `--mount-path`):
 * `{mount_path, create_new, volume_id, size?, name?}`; `volume_id` is an offer id when `create_new`, else a volume's.
 */
export function parseVolumeInfo(raw: unknown): VolumeAttachRequest | null {
  if (raw === undefined || raw === null) return null;
  if (typeof raw !== 'object' || Array.isArray(raw))
    throw new GantryError('INVALID_ARGUMENT', "'volume_info' must be a JSON object.", { field: 'volume_info' });
  const o = raw as Record<string, unknown>;
  if (typeof o.mount_path !== 'string') throw wrong('mount_path', 'a path', o.mount_path);
  const mountPath = checkMountPath(o.mount_path);
  const id = o.volume_id;
  if (typeof id !== 'number' || !Number.isSafeInteger(id) || id <= 0) throw wrong('volume_id', 'a positive integer', id);
  const createNew = o.create_new ?? false;
  if (typeof createNew !== 'boolean') throw wrong('create_new', 'true or false', createNew);
  if (!createNew) return { kind: 'existing', volumeId: id, mountPath };
  const size = o.size ?? DEFAULT_VOLUME_GB;
  if (typeof size !== 'number' || !Number.isFinite(size) || size <= 0) throw wrong('size', 'a positive number of GB', size);
  const name = o.name ?? null;
  if (name !== null && typeof name !== 'string') throw wrong('name', 'a string', name);
  return { kind: 'new', offerId: id, sizeGb: size, name, mountPath };
}
