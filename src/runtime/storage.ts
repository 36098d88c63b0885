import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { lstat, mkdir, readdir, rm, symlink } from 'node:fs/promises';
import { dirname, join, sep } from 'node:path';
import type { VolumeMount } from '../domain/volume/volume.js';
import { dirSizeMb } from './files.js';
import { copyTreeInside } from './copy-inside.js';

/**
 * Storage work a host does for the control plane besides running workloads: volume folders (delete,
 * clone, list for cleanup) and snapshots of an instance. One agent op (`storage`) carries these, so the
 * agent protocol grows by one message kind.
 */
export type StorageCommand =
  | { readonly kind: 'deleteVolume'; readonly volumeId: number }
  | { readonly kind: 'cloneVolume'; readonly fromId: number; readonly toId: number }
  | { readonly kind: 'listVolumes' }
  /** `ref`: the image reference (docker) or archive name (process) to write; `exclude`: mount paths left out. */
  | {
      readonly kind: 'snapshot';
      readonly instanceId: number;
      readonly accountId: number;
      readonly ref: string;
      readonly pause: boolean;
      readonly exclude: readonly string[];
    };

/** What a snapshot made: an image in the host's engine, or an archive of the disk in its data dir. */
export type SnapshotResult = { readonly kind: 'image'; readonly ref: string } | { readonly kind: 'archive'; readonly path: string; readonly sizeMb: number };

/** Volumes live beside the instances' folder (`<dataDir>/instances` → `<dataDir>/volumes/<id>`), so the sandbox hides them too. */
export function volumeRootOf(instancesRoot: string): string {
  return join(dirname(instancesRoot), 'volumes');
}

/** Process snapshots of one account: `<dataDir>/snapshots/a<account>/<name>.tar` (only its own instances start from them). */
export function snapshotDirOf(instancesRoot: string, accountId: number): string {
  return join(dirname(instancesRoot), 'snapshots', `a${accountId}`);
}

/**
 * Docker snapshots of one account: images under `gantry-snapshot/a<account>/` in the host's engine, which every
 * account renting on the host shares; that account's `--image NAME` runs its `gantry-snapshot/a<account>/NAME`.
 */
export function accountSnapshotPrefix(accountId: number): string {
  return `gantry-snapshot/a${accountId}/`;
}

/** Past this many characters an archive's name is cut and ends with a hash of the whole reference (NAME_MAX is 255 bytes). */
const MAX_SNAPSHOT_NAME = 200;

/**
 * The archive's file name for an image reference: one name per reference, never another's (`a_b:c`, `a/b:c`
 * and `a:b_c` were all `a_b_c.tar`, and a later snapshot replaced an earlier one). Letters, digits, `.` and `-`
 * stay; every other byte is `%XX` (`me/app:v1` → `me%2Fapp%3Av1.tar`), a leading `.` too, so no name is
 * hidden, `.` or `..`. A reference without a tag or digest names its `latest`, as an engine reads it, so every
 * name holds a `%` and none is a name of the older scheme (`snapshotFileNameBefore`). A name too long for
 * the file system is cut and ends with `%%` and the reference's SHA-256 (no shorter name holds `%%`).
 */
export function snapshotFileName(ref: string): string {
  const last = ref.slice(ref.lastIndexOf('/') + 1);
  const full = last.includes(':') || last.includes('@') ? ref : `${ref}:latest`;
  let name = '';
  for (const b of Buffer.from(full, 'utf8')) {
    const c = String.fromCharCode(b);
    name += /[A-Za-z0-9-]/.test(c) || (c === '.' && name !== '') ? c : `%${b.toString(16).toUpperCase().padStart(2, '0')}`;
  }
  if (name.length > MAX_SNAPSHOT_NAME) name = `${name.slice(0, MAX_SNAPSHOT_NAME - 80)}%%${createHash('sha256').update(full).digest('hex')}`;
  return `${name}.tar`;
}

/**
 * The name archives had before `snapshotFileName` (`me/app:v1` → `me_app_v1.tar`), which several references
 * shared. Still read where no archive has the new name (seedFromSnapshot), so snapshots taken before stay usable.
 */
export function snapshotFileNameBefore(ref: string): string {
  return ref.replace(/[^A-Za-z0-9._-]/g, '_').replace(/^\.+/, '_') + '.tar';
}

/**
 * Where a mount path lands on the process runtime, relative to the instance's disk (its home and working
 * folder, which stands for a container's /workspace): `/workspace/data` and `data` → `data`; any other
 * absolute path keeps its segments (`/root/volume` → `root/volume`), because a workload there sees the host's
 * own `/`, which Gantry must not change.
 */
export function diskRelative(mountPath: string): string {
  const parts = mountPath.split('/').filter((s) => s !== '');
  return (parts[0] === 'workspace' && parts.length > 1 ? parts.slice(1) : parts).join(sep);
}

/** Where a mount path lands in a container: absolute as given; a relative one under /workspace (the working folder). */
export function containerPath(mountPath: string): string {
  return mountPath.startsWith('/') ? mountPath : `/workspace/${mountPath}`;
}

export async function ensureVolumeDir(root: string, id: number): Promise<string> {
  const dir = join(root, String(id));
  await mkdir(dir, { recursive: true, mode: 0o700 });
  return dir;
}

export async function listVolumeDirs(root: string): Promise<number[]> {
  return (await readdir(root).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number);
}

/** Remove a volume's folder; answers the MB it held. */
export async function deleteVolumeDir(root: string, id: number): Promise<{ freedMb: number }> {
  const dir = join(root, String(id));
  const freedMb = await dirSizeMb(dir);
  await rm(dir, { recursive: true, force: true });
  return { freedMb };
}

/**
 * Copy one volume's folder into another's (a clone on the same machine), keeping modes, owners and links. A
 * volume's folder is made when an instance first links it: without one the source is empty, and so is the clone.
 */
export async function cloneVolumeDir(root: string, fromId: number, toId: number): Promise<void> {
  const to = await ensureVolumeDir(root, toId);
  // The source may be linked into a running instance that changes it meanwhile: copyTreeInside, never `cp -a`.
  await copyTreeInside(join(root, String(fromId)), to);
}

/**
 * Make `mount` visible inside `disk` (unsandboxed process runtime): a symlink at the mount point to the volume's
 * folder. Every folder on the way must be a real folder: a symlink there (the workload's own) could send the
 * link elsewhere on the host. An existing link is replaced; an empty folder too; anything else is refused.
 */
export async function linkVolumeInto(disk: string, mount: VolumeMount, volumeDir: string): Promise<void> {
  const rel = diskRelative(mount.mountPath);
  const parts = rel.split(sep);
  let at = disk;
  for (const part of parts.slice(0, -1)) {
    at = join(at, part);
    const st = await lstat(at).catch(() => null);
    if (st === null) await mkdir(at, { mode: 0o755 });
    else if (!st.isDirectory() || st.isSymbolicLink())
      throw new Error(`mount path ${mount.mountPath}: ${rel} crosses something that is not a folder on the disk`);
  }
  const target = join(disk, rel);
  const st = await lstat(target).catch(() => null);
  if (st?.isSymbolicLink() === true) await rm(target);
  else if (st?.isDirectory() === true && (await readdir(target)).length === 0) await rm(target, { recursive: true });
  else if (st !== null) throw new Error(`mount path ${mount.mountPath}: ${rel} already exists on the instance's disk and is not empty`);
  await symlink(volumeDir, target);
}

/** Run a program (argv, never a shell) and fail with its stderr when it exits non-zero. */
export function run(cmd: string, args: readonly string[]): Promise<void> {
  return new Promise((resolve, reject) => {
    let err = '';
    const child = spawn(cmd, args, { stdio: ['ignore', 'ignore', 'pipe'] });
    child.stderr.on('data', (d: Buffer) => {
      if (err.length < 2000) err += d.toString();
    });
    child.once('error', reject);
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`${cmd} failed (exit ${String(code)}): ${err.trim().slice(0, 300)}`))));
  });
}
