import { GantryError, isGantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { reachHost } from '../reach-host.js';
import { authorizeInstance, type Principal } from '../principal.js';

export interface SnapshotRequest {
  /** The client's `--repo` (`name[:tag]`); null: `gantry-snapshot/instance-<id>`. */
  readonly repo: string | null;
  /** The client's `--container_registry`; Docker Hub's names are left out of the reference, as docker does. */
  readonly registry: string | null;
  readonly pause: boolean;
}

export interface SnapshotTaken {
  readonly machineId: number;
  /** The image reference (docker runtime) or the name a new instance gives as its image (process runtime). */
  readonly ref: string;
  /** Where it lives: `image` in the host's engine, or `archive` (path) in the host's data dir. */
  readonly kind: 'image' | 'archive';
  readonly path: string | null;
  readonly sizeMb: number | null;
}

const REF = /^(?:[a-z0-9.-]+(?::\d+)?\/)?[a-z0-9]+(?:[._-][a-z0-9]+)*(?:\/[a-z0-9]+(?:[._-][a-z0-9]+)*)*(?::[A-Za-z0-9_][A-Za-z0-9_.-]{0,127})?$/;

/** The image reference a snapshot gets: the registry (unless Docker Hub's) before the repository. */
export function snapshotRef(r: SnapshotRequest, instanceId: number): string {
  const repo = r.repo === null || r.repo === '' ? `gantry-snapshot/instance-${instanceId}` : r.repo;
  const reg = r.registry === null || r.registry === '' || /^(docker\.io|index\.docker\.io|registry-1\.docker\.io)$/.test(r.registry) ? null : r.registry;
  const ref = reg === null ? repo : `${reg.replace(/\/+$/, '')}/${repo}`;
  if (!REF.test(ref) || ref.length > 255)
    throw new GantryError('INVALID_ARGUMENT', `${JSON.stringify(ref.slice(0, 80))} is not an image reference (lowercase name[:tag]).`, {
      field: 'personal_repo',
    });
  return ref;
}

/**
 * `take snapshot`: on the docker runtime the instance's container is committed as an image in its host's
 * engine (the Engine API's commit); on the process runtime the disk is archived in the host's data dir, and a
 * new instance of the same account on that machine whose image names the snapshot starts with a copy of it.
 * Nothing is pushed to a registry: Gantry runs without a network to one, and says so.
 */
export async function takeSnapshot(ctx: ControlContext, p: Principal, id: number, r: SnapshotRequest): Promise<SnapshotTaken> {
  const inst = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  const ref = snapshotRef(r, id);
  const host = await reachHost(ctx, inst.machineId);
  if (host === undefined)
    throw new GantryError('HOST_UNAVAILABLE', `Machine ${inst.machineId} is not connected; a snapshot needs its host.`, { machineId: inst.machineId });
  const exclude = (await ctx.store.instanceVolumes(id)).map((v) => v.mountPath);
  let result: unknown;
  try {
    result = await host.storage({ kind: 'snapshot', instanceId: id, accountId: inst.accountId, ref, pause: r.pause, exclude });
  } catch (err) {
    // The host out of reach, or slower than the step's bound: worth trying again, unlike a snapshot it refused.
    if (isGantryError(err) && (err.code === 'HOST_UNAVAILABLE' || err.code === 'STEP_TIMEOUT')) throw err;
    throw new GantryError(
      'SNAPSHOT_UNAVAILABLE',
      `Instance ${id} could not be snapshotted on machine ${inst.machineId}: ${err instanceof Error ? err.message : String(err)}`,
      {
        instanceId: id,
      },
    );
  }
  const o = (result ?? {}) as { kind?: unknown; ref?: unknown; path?: unknown; sizeMb?: unknown };
  ctx.log.info({ instanceId: id, ref, kind: o.kind }, 'snapshot taken');
  return {
    machineId: inst.machineId,
    ref: typeof o.ref === 'string' ? o.ref : ref,
    kind: o.kind === 'archive' ? 'archive' : 'image',
    path: typeof o.path === 'string' ? o.path : null,
    sizeMb: typeof o.sizeMb === 'number' ? o.sizeMb : null,
  };
}
