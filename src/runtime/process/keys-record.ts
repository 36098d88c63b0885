import { createHash } from 'node:crypto';
import { lstat, readFile, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What the sandboxed write of an instance's `authorized_keys` left: the keys' digest and the file's and its
 * folder's identity (device, inode, size, owner, times in ns), in `meta/keys-written`. A start whose keys
 * are those and whose file is still exactly that one skips the write: a bwrap, a shell and three programs
 * on every start's way. Any change the tenant made to the file (a write, a chmod, a link, a replacement, a
 * new `.ssh`) changes its inode or its ctime, which no one but the kernel sets, so the keys are written again
 * as before. Only `lstat` as Gantry: the disk is the tenant's, and nothing of it is read or followed here
 * (a `.ssh` swapped for a link meanwhile can only lead to a file that does not match, and so to a write).
 */
const RECORD = 'keys-written';

export const keysText = (keys: readonly string[]): string => keys.map((k) => k.trim() + '\n').join('');

async function identity(disk: string, uid: number): Promise<string | null> {
  const dir = await lstat(join(disk, '.ssh'), { bigint: true }).catch(() => null);
  if (dir === null || !dir.isDirectory() || dir.uid !== BigInt(uid)) return null;
  const f = await lstat(join(disk, '.ssh', 'authorized_keys'), { bigint: true }).catch(() => null);
  if (f === null || !f.isFile() || f.uid !== BigInt(uid)) return null;
  return [dir.dev, dir.ino, dir.ctimeNs, f.dev, f.ino, f.size, f.mode, f.nlink, f.mtimeNs, f.ctimeNs].join(' ');
}

const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

/** Whether `authorized_keys` is the very file the last write of these keys left. */
export async function keysInPlace(disk: string, meta: string, text: string, uid: number): Promise<boolean> {
  const recorded = await readFile(join(meta, RECORD), 'utf8').catch(() => null);
  if (recorded === null) return false;
  const now = await identity(disk, uid);
  return now !== null && recorded === `${digest(text)} ${now}`;
}

/** After a write: what it left (none when it cannot be told: the next start writes again). */
export async function recordKeys(disk: string, meta: string, text: string, uid: number): Promise<void> {
  const now = await identity(disk, uid);
  if (now === null) await rm(join(meta, RECORD), { force: true });
  else await writeFile(join(meta, RECORD), `${digest(text)} ${now}`, { mode: 0o600 });
}

/** Before a write, and when the disk is wiped: no record stands for a file that may be about to change. */
export const forgetKeys = (meta: string): Promise<void> => rm(join(meta, RECORD), { force: true });
