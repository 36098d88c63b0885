import { constants } from 'node:fs';
import { mkdir, open, rename, unlink, type FileHandle } from 'node:fs/promises';
import { join } from 'node:path';

const DIR = constants.O_RDONLY | constants.O_DIRECTORY | constants.O_NOFOLLOW;
const NEW_FILE = constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL | constants.O_NOFOLLOW;
/** Linux resolves `/proc/self/fd/N/name` inside the folder open as N, whatever its path has become since. */
const BY_FD = process.platform === 'linux';
let serial = 0;

interface Folder {
  readonly fh: FileHandle;
  readonly path: string;
}

const at = (d: Folder, name: string): string => (BY_FD ? `/proc/self/fd/${d.fh.fd}/${name}` : join(d.path, name));

/**
 * Write a file into a folder a workload can write too (a container's `/workspace` and `/.gantry` are the
 * host's folders bound in; so is the unsandboxed process runtime's disk). A link the workload left on the way
 * (`.ssh` → `/root/.ssh`, `onstart.sh` → `/etc/cron.d/x`) would send the write of Gantry, perhaps root, anywhere
 * on the host. So every step is taken from the folder opened before it, never by a path the workload could
 * change meanwhile, and no link is followed: a link or file where a folder belongs is replaced by a folder,
 * and the file itself is written under a fresh name and renamed over whatever had its name.
 */
export async function writeInside(root: string, rel: readonly string[], data: string, o: { mode: number; dirMode: number }): Promise<void> {
  const name = rel.at(-1);
  if (name === undefined) throw new Error('writeInside: no file name');
  let dir: Folder = { fh: await open(root, DIR), path: root };
  try {
    for (const part of rel.slice(0, -1)) {
      const next = await openFolderIn(dir, part, o.dirMode);
      await dir.fh.close();
      dir = next;
    }
    const tmp = `.${name}.gantry-${process.pid}-${serial++}`;
    const fh = await open(at(dir, tmp), NEW_FILE, o.mode);
    try {
      await fh.writeFile(data);
      await fh.chmod(o.mode);
    } finally {
      await fh.close();
    }
    await rename(at(dir, tmp), at(dir, name)).catch(async (err: unknown) => {
      await unlinkEntry(at(dir, tmp));
      throw err;
    });
  } finally {
    await dir.fh.close();
  }
}

/** The folder `name` in `dir`, made (or put in place of a link or file) when it is not one. */
async function openFolderIn(dir: Folder, name: string, mode: number): Promise<Folder> {
  for (let tries = 0; ; tries++) {
    try {
      return { fh: await open(at(dir, name), DIR), path: join(dir.path, name) };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      // ELOOP: a link; ENOTDIR: a file. Twice replaced and still not a folder: the workload is racing us.
      if (tries >= 2 || (code !== 'ENOENT' && code !== 'ELOOP' && code !== 'ENOTDIR')) throw err;
      if (code !== 'ENOENT') await unlinkEntry(at(dir, name));
      await mkdir(at(dir, name), { mode }).catch((e: NodeJS.ErrnoException) => {
        if (e.code !== 'EEXIST') throw e;
      });
    }
  }
}

/**
 * Remove the link or file at `path`, never a folder: unlink(2) does not follow a link and refuses a folder.
 * Not fs.rm: it looks at the entry, then looks again and empties it when it is a folder by then (recursive or
 * not), by paths through the entry, so a workload swapping a link and a full folder there has it delete, as
 * Gantry, the files wherever its link points. A folder that is there now is left for the next open to take.
 */
export async function unlinkEntry(path: string): Promise<void> {
  await unlink(path).catch((e: NodeJS.ErrnoException) => {
    if (e.code !== 'ENOENT' && e.code !== 'EISDIR' && e.code !== 'EPERM') throw e;
  });
}
