import type Docker from 'dockerode';
import type { WorkloadSpec } from '../runtime.js';
import { engineImage } from '../../domain/instance/create.js';
import { statusOf } from './labelled.js';
import { accountSnapshotPrefix, cloneVolumeDir, deleteVolumeDir, listVolumeDirs, type SnapshotResult, type StorageCommand } from '../storage.js';

/** `me/app:v1` → repo `me/app`, tag `v1`; no tag → `latest` (a port in a registry host is not a tag). */
export function splitRef(ref: string): { repo: string; tag: string } {
  const slash = ref.lastIndexOf('/');
  const colon = ref.lastIndexOf(':');
  if (colon > slash) return { repo: ref.slice(0, colon), tag: ref.slice(colon + 1) };
  return { repo: ref, tag: 'latest' };
}

/** The engine's description of an image; null when it has none (404: pulled next). */
async function imageInfo(docker: Docker, ref: string): Promise<Docker.ImageInspectInfo | null> {
  return docker
    .getImage(ref)
    .inspect()
    .catch((err: unknown) => {
      const sc = statusOf(err);
      if (sc === 404 || sc === 400) return null; // 400: a name the engine cannot parse once prefixed
      throw err;
    });
}

/**
 * The image a workload runs: the account's own snapshot of that name when the engine has one (`take snapshot
 * --repo me/app:v1`, then `--image me/app:v1`, as on Vast), else the image as named. Refused when the image the
 * engine would run is another account's snapshot, however it is named (a tag, its id, a prefix of the id): the
 * control plane checks names, this checks what the name resolves to.
 */
export async function imageToRun(docker: Docker, spec: Pick<WorkloadSpec, 'image' | 'accountId'>): Promise<string> {
  const named = engineImage(spec.image);
  if (spec.accountId === undefined) return named;
  const own = accountSnapshotPrefix(spec.accountId) + named;
  // A registry with a port (`host:5000/app`) cannot follow the prefix (a path component holds no colon): no
  // snapshot has such a name, and Podman answers its lookup 500 "invalid reference format", not 400.
  const mine = named.startsWith('gantry-snapshot/') || splitRef(named).repo.includes(':') ? null : await imageInfo(docker, own);
  const image = mine !== null ? own : named;
  const info = mine ?? (await imageInfo(docker, image));
  for (const tag of info?.RepoTags ?? []) {
    const of = /(?:^|\/)gantry-snapshot\/a(\d+)\//.exec(tag)?.[1];
    if (of !== undefined && Number(of) !== spec.accountId) throw new Error(`image ${spec.image} is a snapshot of another account: only that account runs it`);
  }
  return image;
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
