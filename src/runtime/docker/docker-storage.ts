import type Docker from 'dockerode';
import type { WorkloadSpec } from '../runtime.js';
import { accountSnapshotPrefix, cloneVolumeDir, deleteVolumeDir, listVolumeDirs, type SnapshotResult, type StorageCommand } from '../storage.js';

/** `me/app:v1` → repo `me/app`, tag `v1`; no tag → `latest` (a port in a registry host is not a tag). */
export function splitRef(ref: string): { repo: string; tag: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}

/**
 * The image a workload runs: the account's own snapshot of that name when the engine has one (`take snapshot
 * --repo me/app:v1`, then `--image me/app:v1`, as on Vast), else the image as named.
 */
export async function imageToRun(docker: Docker, spec: Pick<WorkloadSpec, 'image' | 'accountId'>): Promise<string> {
  if (spec.accountId === undefined || spec.image.startsWith('gantry-snapshot/')) return spec.image;
  const own = accountSnapshotPrefix(spec.accountId) + spec.image;
  const found = await docker
    .getImage(own)
    .inspect()
    .then(
      () => true,
      () => false,
    );
  return found ? own : spec.image;
}

/** Volume folders (shared with the process runtime's layout) and snapshots as image commits. */
export async function dockerStorage(docker: Docker, volumeRoot: string, c: StorageCommand, nameOf: (id: number) => string): Promise<unknown> {
  switch (c.kind) {
    case 'deleteVolume':
      return deleteVolumeDir(volumeRoot, c.volumeId);
    case 'cloneVolume':
      await cloneVolumeDir(volumeRoot, c.fromId, c.toId);
      return null;
    case 'listVolumes':
      return listVolumeDirs(volumeRoot);
    case 'snapshot': {
      // The Engine API's commit: the container's filesystem as a new image in this engine (bind mounts are not part of it).
      const { repo, tag } = splitRef(c.ref);
      await docker.getContainer(nameOf(c.instanceId)).commit({ repo, tag, pause: c.pause, comment: `gantry snapshot of instance ${c.instanceId}` });
      const result: SnapshotResult = { kind: 'image', ref: `${repo}:${tag}` };
      return result;
    }
  }
}
