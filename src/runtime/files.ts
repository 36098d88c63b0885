import { randomUUID } from 'node:crypto';
import { constants } from 'node:fs';
import { chmod, mkdir, open, readFile, readdir, rename, stat, unlink } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { unlinkEntry, writeInside } from './write-inside.js';

export { unlinkEntry, writeInside };

/**
 * File helpers the runtimes (and the host's start-up) share: values kept once in a file, the per-instance
 * folder layout, exit codes kept in files, and a bounded disk-usage walk.
 */

/**
 * Read a value kept in a file, or create it once; either way the file ends up owner-only (0600). A new value is on
 * disk before it is answered (writeDurably): what the caller then does with it (a database that names the admin
 * key, secrets sealed with the vault's key) never outlives the file in a power loss or a kill.
 */
export async function readOrCreate(file: string, make: () => string): Promise<string> {
  const existing = (await readFile(file, 'utf8').catch(() => '')).trim();
  if (existing !== '') {
    await chmod(file, 0o600);
    return existing;
  }
  const v = make();
  await writeDurably(file, v + '\n');
  return v;
}

/**
 * Write a small owner-only file whole or not at all, and synced: a temporary file written and synced, renamed into
 * place, then the folder synced (the rename itself is only durable once the folder is). A file cut short by a
 * crash would otherwise read empty, or hold half a key.
 */
export async function writeDurably(file: string, text: string): Promise<void> {
  const tmp = `${file}.${process.pid}.${randomUUID()}.tmp`;
  const fh = await open(tmp, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600);
  try {
    await fh.writeFile(text);
    await fh.sync();
  } finally {
    await fh.close();
  }
  try {
    await rename(tmp, file);
  } catch (err) {
    await unlink(tmp).catch(() => undefined);
    throw err;
  }
  await chmod(file, 0o600);
  const dir = await open(dirname(file), constants.O_RDONLY);
  try {
    await dir.sync();
  } finally {
    await dir.close();
  }
}

/** A runtime's root folder and its id (kept in `runtime-id`): the label that tells its workloads from another Gantry's. */
export async function openRuntimeRoot(root: string): Promise<string> {
  await mkdir(root, { recursive: true, mode: 0o700 });
  await chmod(root, 0o700);
  return readOrCreate(join(root, 'runtime-id'), randomUUID);
}

/** One folder per instance: `disk/` (the instance's disk) and `meta/` (runtime files). */
export function instancePaths(root: string, id: number): { base: string; disk: string; meta: string } {
  const base = join(root, String(id));
  return { base, disk: join(base, 'disk'), meta: join(base, 'meta') };
}

/**
 * The instance's SSH keys, as `.ssh/authorized_keys` on its disk (the home folder of process workloads,
 * /workspace in containers). Gantry owns the file: it is rewritten whenever the attached keys change.
 */
export async function writeAuthorizedKeys(disk: string, keys: readonly string[]): Promise<void> {
  // The disk is the workload's: no link it made there is followed (writeInside).
  await writeInside(disk, ['.ssh', 'authorized_keys'], authorizedKeysText(keys), { mode: 0o600, dirMode: 0o700 });
}

/** The text of `authorized_keys`: one key a line. */
export const authorizedKeysText = (keys: readonly string[]): string => keys.map((k) => k.trim() + '\n').join('');

/** Instance ids that have a folder under the root (leftovers count: a crash between "destroyed" and "removed"). */
export async function instanceDirs(root: string): Promise<number[]> {
  return (await readdir(root).catch(() => [] as string[])).filter((n) => /^\d+$/.test(n)).map(Number);
}

/**
 * Open a file the workload could have written (its `out` folder): never through a symlink, never blocking on a
 * FIFO, only a plain file. Gantry may be root: a workload must not get it to read anything else for it.
 */
export async function openWorkloadFile(file: string): Promise<Awaited<ReturnType<typeof open>> | null> {
  const fh = await open(file, constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK).catch(() => null);
  if (fh === null) return null;
  if ((await fh.stat()).isFile()) return fh;
  await fh.close();
  return null;
}

export async function readCode(file: string, o: { writtenBefore?: number } = {}): Promise<number | null> {
  const fh = await openWorkloadFile(file);
  if (fh === null) return null;
  try {
    if (o.writtenBefore !== undefined && (await fh.stat()).mtimeMs >= o.writtenBefore) return null;
    const buf = Buffer.alloc(32);
    const { bytesRead } = await fh.read(buf, 0, 32, 0);
    const text = buf.subarray(0, bytesRead).toString('utf8').trim();
    return /^-?\d+$/.test(text) ? Number(text) : null;
  } finally {
    await fh.close();
  }
}

/** Bounded walk: a disk with very many files reports the size seen in the first 20,000 entries. */
export async function dirSizeMb(dir: string): Promise<number> {
  let total = 0;
  let budget = 20_000;
  const stack = [dir];
  while (stack.length > 0 && budget > 0) {
    const d = stack.pop() as string;
    const entries = await readdir(d, { withFileTypes: true }).catch(() => []);
    for (const e of entries) {
      if (--budget <= 0) break;
      const p = join(d, e.name);
      if (e.isDirectory()) stack.push(p);
      else if (e.isFile())
        total += await stat(p).then(
          (s) => s.size,
          () => 0,
        );
    }
  }
  return Math.round((total / 1e6) * 10) / 10;
}

/** Disk usage per instance: a directory walk, reused for `ttlMs` because instance lists are polled often. */
export class DiskUsageCache {
  readonly #ttlMs: number;
  readonly #cache = new Map<number, { at: number; mb: number }>();

  constructor(ttlMs: number) {
    this.#ttlMs = ttlMs;
  }

  async mb(id: number, dir: string, now: number): Promise<number> {
    const cached = this.#cache.get(id);
    if (cached !== undefined && now - cached.at < this.#ttlMs) return cached.mb;
    const mb = await dirSizeMb(dir);
    this.#cache.set(id, { at: now, mb });
    return mb;
  }

  forget(id: number): void {
    this.#cache.delete(id);
  }
}

/** Percent of one core between two samples of a cumulative CPU counter (in ms of CPU time). */
export function cpuPercent(prev: { cpuMs: number; at: number } | undefined, cur: { cpuMs: number; at: number }): number {
  if (prev === undefined || cur.at <= prev.at) return 0;
  return Math.round(Math.max(0, ((cur.cpuMs - prev.cpuMs) / (cur.at - prev.at)) * 100) * 10) / 10;
}
