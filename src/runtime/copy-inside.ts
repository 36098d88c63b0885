import { constants } from 'node:fs';
import { chmod, chown, lchown, lstat, lutimes, mkdir, open, readdir, readlink, symlink, utimes, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

const DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const PLAIN = constants.O_RDONLY | constants.O_NOFOLLOW | constants.O_NONBLOCK;
/** A tree deeper than this is not copied further (each level holds a descriptor open). */
const MAX_DEPTH = 256;

/** Owners are kept when Gantry may give them (as root); otherwise the copy is Gantry's user's, as with `cp -a`. */
const notOwner = (err: NodeJS.ErrnoException): void => {
  if (err.code !== 'EPERM') throw err;
};

const under = (fh: FileHandle, name: string): string => `/proc/self/fd/${fh.fd}/${name}`;

/**
 * Copy the tree `from` into the folder `to` (made by the caller, empty, nobody else's), keeping modes,
 * owners, times and links, where a workload may be changing `from` meanwhile (a volume linked into a
 * running instance). `cp -a` walks it by paths: a folder swapped for a link to a host folder between two
 * of its steps had it copy, as root, host files into the copy the tenant then reads. Here every entry is
 * reached from the folder opened before it (`/proc/self/fd/N/name`), nothing is opened through a link,
 * and an entry that changed kind between its look and its open is left out. Devices, FIFOs and sockets
 * are left out; hard links are copied as separate files.
 */
export async function copyTreeInside(from: string, to: string): Promise<void> {
  let root: FileHandle;
  try {
    root = await open(from, DIR);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return;
    throw err;
  }
  try {
    await copyFolder(root, to, 0);
  } finally {
    await root.close();
  }
}

async function copyFolder(dir: FileHandle, to: string, depth: number): Promise<void> {
  for (const name of await readdir(`/proc/self/fd/${dir.fd}`)) {
    const src = under(dir, name);
    const dst = join(to, name);
    const st = await lstat(src).catch(() => null); // the entry's own kind: lstat does not follow its last step
    if (st === null) continue;
    if (st.isSymbolicLink()) {
      const target = await readlink(src).catch(() => null);
      if (target === null) continue;
      await symlink(target, dst);
      await lchown(dst, st.uid, st.gid).catch(notOwner);
      await lutimes(dst, st.atime, st.mtime);
    } else if (st.isDirectory() && depth < MAX_DEPTH) {
      const sub = await open(src, DIR).catch(() => null); // swapped for a link since its look: left out
      if (sub === null) continue;
      try {
        const s = await sub.stat();
        await mkdir(dst, { mode: 0o700 });
        await copyFolder(sub, dst, depth + 1);
        await chown(dst, s.uid, s.gid).catch(notOwner);
        await chmod(dst, s.mode & 0o7777);
        await utimes(dst, s.atime, s.mtime);
      } finally {
        await sub.close();
      }
    } else if (st.isFile()) {
      await copyFile(src, dst);
    }
  }
}

/** One plain file, opened without following a link and checked to be a plain file once open. */
async function copyFile(src: string, dst: string): Promise<void> {
  const inp = await open(src, PLAIN).catch(() => null);
  if (inp === null) return;
  try {
    const s = await inp.stat();
    if (!s.isFile()) return;
    const out = await open(dst, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW, 0o600);
    try {
      const buf = Buffer.allocUnsafe(1 << 20);
      for (let at = 0; ;) {
        const { bytesRead } = await inp.read(buf, 0, buf.length, at);
        if (bytesRead === 0) break;
        for (let done = 0; done < bytesRead;) done += (await out.write(buf, done, bytesRead - done, at + done)).bytesWritten;
        at += bytesRead;
      }
      await out.chown(s.uid, s.gid).catch(notOwner);
      await out.chmod(s.mode & 0o7777);
      await out.utimes(s.atime, s.mtime);
    } finally {
      await out.close();
    }
  } finally {
    await inp.close();
  }
}
