import { mkdir, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { WorkloadSpec } from '../runtime.js';
import {
  cloneVolumeDir,
  deleteVolumeDir,
  diskRelative,
  ensureVolumeDir,
  linkVolumeInto,
  listVolumeDirs,
  run,
  snapshotDirOf,
  snapshotFileName,
  snapshotFileNameBefore,
  volumeRootOf,
  type SnapshotResult,
  type StorageCommand,
} from '../storage.js';

type Ids = { uid: number; gid: number } | null;

const exists = (p: string): Promise<boolean> =>
  stat(p).then(
    () => true,
    () => false,
  );

type Bind = { readonly source: string; readonly target: string };

/** A link the sandbox makes on the disk, as the instance's uid: `path` (disk-relative) to `target`. */
export interface VolumeLink {
  readonly path: string;
  readonly target: string;
}

/**
 * Run in the sandbox with pairs of arguments (path on the disk, target): each mount point becomes a link to
 * its volume's bind, replacing a link or an empty folder there (an earlier start's mount point). It runs as
 * the tenant, so a link of the tenant's on the way can only send it where the tenant may write anyway.
 */
export const LINK_VOLUMES_SCRIPT = `set -e
while [ $# -gt 1 ]; do
  p=$1; t=$2; shift 2
  mkdir -p -- "$(dirname -- "$p")"
  if [ -L "$p" ]; then rm -f -- "$p"
  elif [ -d "$p" ]; then rmdir -- "$p" 2>/dev/null || { echo "mount path $p already exists on the instance's disk and is not empty" >&2; exit 1; }
  elif [ -e "$p" ]; then echo "mount path $p already exists on the instance's disk and is not a folder" >&2; exit 1; fi
  ln -s -- "$t" "$p"
done`;

/**
 * The process runtime's volumes: each linked volume's folder appears at its mount point inside the disk.
 * Without a sandbox, a symlink to the folder. In the sandbox, the folder is bound at a mount point in the
 * instance's meta folder (Gantry's, read-only to the workload), and the mount point on the disk is a link
 * to it that the sandbox makes (`links`). A bind is never made at a path on the disk: the running workload
 * could turn a folder on that path into a link, and send the bind over a program the sandbox then runs as
 * root (its `setpriv`).
 */
export async function volumeBinds(
  root: string,
  spec: WorkloadSpec,
  p: { disk: string; meta: string },
  o: { sandboxed: boolean; ids: Ids },
): Promise<{ binds: Bind[]; links: VolumeLink[] }> {
  const binds: Bind[] = [];
  const links: VolumeLink[] = [];
  for (const m of spec.volumes ?? []) {
    const dir = await ensureVolumeDir(volumeRootOf(root), m.volumeId);
    if (!o.sandboxed) {
      await linkVolumeInto(p.disk, m, dir);
      continue;
    }
    // One volume follows its instances from uid to uid (a uid per instance): it belongs to the one that runs now.
    if (o.ids !== null) await run('chown', ['-R', '--no-dereference', `${o.ids.uid}:${o.ids.gid}`, dir]);
    const target = join(p.meta, 'volumes', String(m.volumeId));
    await mkdir(target, { recursive: true, mode: 0o755 });
    binds.push({ source: dir, target });
    links.push({ path: diskRelative(m.mountPath), target });
  }
  return { binds, links };
}

/** The volume binds of an instance's last start, in its meta folder: sessions (ssh, execute, copy) bind them too. */
const BINDS_FILE = 'binds.json';

/** Kept with each start, in the meta folder, which the workload cannot write. */
export async function saveBinds(meta: string, binds: readonly Bind[]): Promise<void> {
  await writeFile(join(meta, BINDS_FILE), JSON.stringify(binds));
}

/** The binds of the instance's last start: only sources under the volume root, onto the meta folder's mount points. */
export async function savedBinds(root: string, meta: string): Promise<Bind[]> {
  let parsed: unknown;
  try {
    parsed = JSON.parse(await readFile(join(meta, BINDS_FILE), 'utf8'));
  } catch {
    return []; // none yet (never started), or not readable: a session without volumes, as before
  }
  const volumes = volumeRootOf(root) + sep;
  const mounts = join(meta, 'volumes') + sep;
  const out: Bind[] = [];
  for (const b of Array.isArray(parsed) ? (parsed as unknown[]) : []) {
    const r = typeof b === 'object' && b !== null ? (b as Record<string, unknown>) : {};
    const ok = typeof r.source === 'string' && typeof r.target === 'string' && r.source.startsWith(volumes) && r.target.startsWith(mounts);
    if (ok) out.push({ source: r.source as string, target: r.target as string });
  }
  return out;
}

/**
 * On an instance's first start, its disk starts as a copy of its account's snapshot named like its image
 * (`take snapshot` on the process runtime), when this machine holds one. Later starts keep the disk as it is.
 */
export async function seedFromSnapshot(root: string, spec: WorkloadSpec, p: { disk: string; meta: string }, ids: Ids): Promise<void> {
  const marker = join(p.meta, 'seeded');
  if (await exists(marker)) return;
  if (spec.accountId !== undefined) {
    const dir = snapshotDirOf(root, spec.accountId);
    // An archive of the older naming is read only where none has the new name: it was taken before, under the name it could have.
    let archive = join(dir, snapshotFileName(spec.image));
    if (!(await exists(archive))) archive = join(dir, snapshotFileNameBefore(spec.image));
    if (await exists(archive)) {
      await run('tar', ['-xf', archive, '-C', p.disk, '--no-same-owner', '--no-same-permissions']);
      if (ids !== null) await run('chown', ['-R', '--no-dereference', `${ids.uid}:${ids.gid}`, p.disk]);
    }
  }
  await writeFile(marker, String(Date.now()));
}

/** Volume folders and disk archives on this host (`storage.ts`). */
export async function processStorage(root: string, c: StorageCommand, diskOf: (id: number) => string): Promise<unknown> {
  const volumes = volumeRootOf(root);
  switch (c.kind) {
    case 'deleteVolume':
      return deleteVolumeDir(volumes, c.volumeId);
    case 'cloneVolume':
      await cloneVolumeDir(volumes, c.fromId, c.toId);
      return null;
    case 'listVolumes':
      return listVolumeDirs(volumes);
    case 'snapshot':
      return snapshotDisk(root, c, diskOf(c.instanceId));
  }
}

/**
 * Archives a snapshot was still writing when its agent died (kill -9, OOM, power): the tar it ran may even finish
 * one, but nothing renames it into place, and it would hold a whole disk's worth of space for good. One agent
 * serves a data dir, so at its start every `.partial` is such a leftover (a tar still writing one frees the space
 * when it ends). Archives end in `.tar`: none is taken for one.
 */
export async function removeCutSnapshots(root: string): Promise<void> {
  const snapshots = join(dirname(root), 'snapshots');
  for (const account of await readdir(snapshots).catch(() => [] as string[])) {
    const dir = join(snapshots, account);
    for (const name of await readdir(dir).catch(() => [] as string[])) if (name.endsWith('.partial')) await rm(join(dir, name), { force: true });
  }
}

/** A tar of the disk (volumes' mount points left out: their data is the volumes'), written whole, then renamed into place. */
async function snapshotDisk(root: string, c: Extract<StorageCommand, { kind: 'snapshot' }>, disk: string): Promise<SnapshotResult> {
  if (!(await exists(disk))) throw new Error(`instance ${c.instanceId} has no disk on this machine`);
  const dir = snapshotDirOf(root, c.accountId);
  await mkdir(dir, { recursive: true, mode: 0o700 });
  const path = join(dir, snapshotFileName(c.ref));
  const tmp = `${path}.partial`;
  const excludes = c.exclude.map((m) => `--exclude=./${diskRelative(m).split(sep).join('/')}`);
  try {
    await run('tar', ['-cf', tmp, '-C', disk, ...excludes, '.']);
    await rename(tmp, path);
  } finally {
    await rm(tmp, { force: true });
  }
  const { size } = await stat(path);
  return { kind: 'archive', path, sizeMb: Math.round((size / 1e6) * 10) / 10 };
}
