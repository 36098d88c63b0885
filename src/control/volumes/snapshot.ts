import { GantryError, isGantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { reachHost } from '../reach-host.js';
import { accountSnapshotPrefix } from '../../runtime/storage.js';
import { authorizeInstance, type Principal } from '../principal.js';
import { isImageNameTag } from '../../domain/instance/create.js';

export interface SnapshotRequest {
  /** The client's `--repo` (`name[:tag]`); null: `gantry-snapshot/instance-<id>`. */
  readonly repo: string | null;
  /** The client's `--container_registry`; Docker Hub's names are left out of the reference, as docker does (see snapshotRef). */
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

/** Where snapshots' images live in a host's engine: one namespace per account (custom names) or per instance (the default name). */
const SNAPSHOTS = 'gantry-snapshot';

/**
 * The image reference a snapshot gets. On a host whose snapshots are images of an engine every renting
 * account shares (`shared`: the docker runtime), a snapshot never takes a name as it is, which would let one
 * account replace an image another runs (`ubuntu:22.04`, or the other's snapshot): it goes under the account's
 * own `gantry-snapshot/a<account>/` (the default: `…/instance-<id>`; a `--repo` with its registry, if any,
 * nothing being pushed), where that account's `--image NAME` finds it and the host refuses it to any other
 * account (docker-storage.ts `imageToRun`). The process runtime keeps each account's snapshots apart already:
 * the name is kept, and the default is `gantry-snapshot/instance-<id>`.
 */
export function snapshotRef(r: SnapshotRequest, instanceId: number, o: { readonly accountId: number; readonly shared: boolean }): string {
  const own = accountSnapshotPrefix(o.accountId);
  const given = r.repo === null || r.repo === '' ? null : r.repo;
  // Only the account's own namespace: another name there could never be run by its owner (snapshotOwnerOf).
  if (given?.startsWith(`${SNAPSHOTS}/`) === true && !given.startsWith(own))
    throw new GantryError('INVALID_ARGUMENT', `--repo may not name an image under ${SNAPSHOTS}/: that namespace is Gantry's.`, { field: 'personal_repo' });
  const reg = r.registry === null || r.registry === '' || /^(docker\.io|index\.docker\.io|registry-1\.docker\.io)$/.test(r.registry) ? null : r.registry;
  // The name as the client will ask for it (`--image ghcr.io/me/app:v1`): with its registry, unless Docker Hub's.
  const named = given === null ? null : reg === null || given.startsWith(own) ? given : `${reg.replace(/\/+$/, '')}/${given}`;
  let repo: string;
  if (named === null) repo = o.shared ? `${own}instance-${instanceId}` : `${SNAPSHOTS}/instance-${instanceId}`;
  else repo = !o.shared || named.startsWith(own) ? named : `${own}${named}`;
  if (!isImageNameTag(repo))
    throw new GantryError('INVALID_ARGUMENT', `${JSON.stringify(repo.slice(0, 80))} is not an image reference (lowercase name[:tag]).`, {
      field: 'personal_repo',
    });
  return repo;
}

/** Which snapshot an image names, as an engine resolves it (Podman's `localhost/`, Docker Hub's host left out); null: not a snapshot's name. */
export function snapshotOwnerOf(image: string): { readonly accountId: number } | { readonly instanceId: number } | null {
  const name = image.trim().replace(/^(localhost|docker\.io|index\.docker\.io|registry-1\.docker\.io)\//, '');
  if (!name.startsWith(`${SNAPSHOTS}/`)) return null;
  const m = /^gantry-snapshot\/(?:a(\d+)\/|instance-(\d+)(?:[:@]|$))/.exec(name);
  if (m?.[1] !== undefined) return { accountId: Number(m[1]) };
  if (m?.[2] !== undefined) return { instanceId: Number(m[2]) };
  // Any other name in the snapshots' namespace is no account's: refused to everyone but admins.
  return { accountId: 0 };
}

/**
 * An image a create or an update may run: a snapshot image only of the caller's own account (an admin's: any).
 * Another account's snapshot, taken or not, is refused alike, so the answer does not tell whether it exists.
 */
export async function checkSnapshotImage(ctx: ControlContext, p: Principal, image: string): Promise<void> {
  const owner = snapshotOwnerOf(image);
  if (owner === null || p.isAdmin) return;
  const accountId = 'accountId' in owner ? owner.accountId : (await ctx.store.getInstance(owner.instanceId))?.accountId;
  if (accountId !== p.accountId)
    throw new GantryError(
      'INVALID_ARGUMENT',
      `Image ${JSON.stringify(image.slice(0, 120))} names no snapshot of this account; snapshots run only for the account that took them.`,
      { field: 'image' },
    );
}

/**
 * `take snapshot`: on the docker runtime the instance's container is committed as an image in its host's
 * engine (the Engine API's commit); on the process runtime the disk is archived in the host's data dir, and a
 * new instance of the same account on that machine whose image names the snapshot starts with a copy of it.
 * Nothing is pushed to a registry: Gantry runs without a network to one, and says so.
 */
export async function takeSnapshot(ctx: ControlContext, p: Principal, id: number, r: SnapshotRequest): Promise<SnapshotTaken> {
  const inst = authorizeInstance(p, await ctx.store.getInstance(id), id, 'instance.manage');
  const machine = await ctx.store.getMachine(inst.machineId, ctx.clock.now());
  const ref = snapshotRef(r, id, { accountId: inst.accountId, shared: machine?.runtime !== 'process' });
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
