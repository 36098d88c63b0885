import { createHash } from 'node:crypto';
import { lstat, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { join } from 'node:path';

/**
 * What a start's sandboxed write of an instance's `authorized_keys` left: the keys' digest and the file's and
 * its folder's identity (device, inode, size, mode, owner, times in ns), in `meta/keys-written`. A start whose
 * keys are those and whose file is still exactly that one skips the write: a bwrap, a shell and three
 * programs on every start's way. Any change the tenant made to the file (a write, a chmod, a link, a
 * replacement, a new `.ssh`) changes its inode or its ctime, which no one but the kernel sets, so the keys
 * are written again, as every start did. Only a start records (its workload runs after the write), and only
 * with no session of the tenant's open or begun during its write (`SessionLedger`): no process of the tenant's
 * can have changed the file between the write and the record (a write while the workload runs leaves none).
 * A file whose ctime is not before the record's own mtime counts as changed (git's "racily clean" rule): on a
 * file system that keeps whole seconds, a change in the second of the record is not told by the times.
 * A start with no keys on a disk with no `.ssh` writes nothing (`nothingToWrite`).
 * Only `lstat` as Gantry: the disk is the tenant's, and nothing of it is read or followed here.
 */

/**
 * The write itself, run in the instance's sandbox as its uid with the keys on stdin. The temporary file is made
 * anew (noclobber: O_EXCL): a FIFO the tenant left in its place would block the write for ever.
 */
export const WRITE_KEYS_SCRIPT =
  'umask 077; mkdir -p .ssh && rm -f .ssh/authorized_keys.tmp && (set -C; cat > .ssh/authorized_keys.tmp) && mv -f .ssh/authorized_keys.tmp .ssh/authorized_keys';

const RECORD = 'keys-written';
const RECORD_TRIES = 5;
const RECORD_RETRY_MS = 5;
const SECOND_NS = 1_000_000_000n;

async function identity(disk: string, uid: number): Promise<{ id: string; ctimeNs: bigint } | null> {
  const ssh = join(disk, '.ssh');
  const dir = await lstat(ssh, { bigint: true }).catch(() => null);
  if (dir === null || !dir.isDirectory() || dir.uid !== BigInt(uid)) return null;
  const f = await lstat(join(ssh, 'authorized_keys'), { bigint: true }).catch(() => null);
  if (f === null || !f.isFile() || f.uid !== BigInt(uid)) return null;
  // `.ssh` swapped for a link between the two looks would have sent the second elsewhere: the same folder after it.
  const again = await lstat(ssh, { bigint: true }).catch(() => null);
  if (again === null || again.ino !== dir.ino || again.dev !== dir.dev || again.ctimeNs !== dir.ctimeNs) return null;
  return { id: [dir.dev, dir.ino, dir.ctimeNs, f.dev, f.ino, f.size, f.mode, f.nlink, f.mtimeNs, f.ctimeNs].join(' '), ctimeNs: f.ctimeNs };
}

const digest = (text: string): string => createHash('sha256').update(text).digest('hex');

/**
 * No keys, and no `.ssh` on the disk: a start has nothing to write (to sshd an absent file and an empty one
 * are alike; nothing of Gantry's reads the file), so a first start without keys spends no sandbox on it.
 */
export async function nothingToWrite(disk: string, text: string): Promise<boolean> {
  return text === '' && (await lstat(join(disk, '.ssh')).catch(() => null)) === null;
}

/** Whether `authorized_keys` is the very file a start's write of these keys left. */
export async function keysInPlace(disk: string, meta: string, text: string, uid: number): Promise<boolean> {
  const file = join(meta, RECORD);
  const [recorded, at] = await Promise.all([readFile(file, 'utf8').catch(() => null), stat(file, { bigint: true }).catch(() => null)]);
  if (recorded === null || at === null) return false;
  const now = await identity(disk, uid);
  return now !== null && now.ctimeNs < at.mtimeNs && recorded === `${digest(text)} ${now.id}`;
}

/**
 * After a start's write: what it left (none when it cannot be told, or when `quiet` says a session of the
 * tenant's may have touched the file meanwhile: the next start writes again). A kernel that stamps files with
 * a coarse clock (a tick of a few ms) may give the record the file's own time, which would make the next start
 * write again: the record is written again a few ms later, a few times at most (a file system of whole seconds
 * gets none). A record that cannot be written is no failure of the start.
 */
export async function recordKeys(disk: string, meta: string, text: string, uid: number, quiet: () => boolean): Promise<void> {
  const file = join(meta, RECORD);
  try {
    const now = await identity(disk, uid);
    for (let i = 0; now !== null && quiet() && i < RECORD_TRIES; i++) {
      if (i > 0) await new Promise((r) => setTimeout(r, RECORD_RETRY_MS));
      await writeFile(file, `${digest(text)} ${now.id}`, { mode: 0o600 });
      const at = (await stat(file, { bigint: true })).mtimeNs;
      if (at > now.ctimeNs && quiet()) return;
      if (at % SECOND_NS === 0n && now.ctimeNs % SECOND_NS === 0n) break; // whole seconds: no try will do
    }
    await rm(file, { force: true });
  } catch {
    await rm(file, { force: true }).catch(() => undefined);
  }
}

/** Before a write, and when the disk is wiped: no record stands for a file that may be about to change. */
export const forgetKeys = (meta: string): Promise<void> => rm(join(meta, RECORD), { force: true });

/**
 * Sessions (exec) per instance: begun so far, and open now. A start records its keys' file only when none
 * was open or began during its write: no process of the tenant's could have changed the file before the record.
 */
export class SessionLedger {
  readonly #byId = new Map<number, { begun: number; open: number; forgotten?: boolean }>();

  #of(id: number): { begun: number; open: number; forgotten?: boolean } {
    const s = this.#byId.get(id) ?? { begun: 0, open: 0 };
    this.#byId.set(id, s);
    return s;
  }

  /** A session begins; the function returned ends it (once, however often it is called). */
  begin(id: number): () => void {
    const s = this.#of(id);
    s.begun++;
    s.open++;
    let open = true;
    return () => {
      if (open) s.open--;
      open = false;
      if (s.forgotten === true && s.open === 0 && this.#byId.get(id) === s) this.#byId.delete(id);
    };
  }

  /** What `quietSince` compares with: the sessions begun so far. */
  mark(id: number): number {
    return this.#of(id).begun;
  }

  quietSince(id: number, mark: number): boolean {
    const s = this.#of(id);
    return s.open === 0 && s.begun === mark;
  }

  /** A destroyed instance (one whose session is still open is forgotten when that session ends). */
  forget(id: number): void {
    const s = this.#byId.get(id);
    if (s !== undefined && s.open === 0) this.#byId.delete(id);
    else if (s !== undefined) s.forgotten = true;
  }
}
