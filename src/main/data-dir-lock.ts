import { randomUUID } from 'node:crypto';
import { existsSync, linkSync, readFileSync, renameSync, unlinkSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { GantryError } from '../domain/errors.js';

/**
 * One server per data dir: `<dataDir>/server.lock` names the process that serves it (pid, URL). It is
 * created atomically (a complete file hard-linked into place, so a reader never sees half of it), held
 * for the process's life and removed, with the `url` file, when the process exits. A lock whose pid is
 * dead (kill -9, a crash, a reboot) is stale: the next start takes it over.
 */
export interface LockHolder {
  readonly pid: number;
  /** null while the server is starting (it writes its URL once it listens). */
  readonly url: string | null;
}

interface LockFile extends LockHolder {
  readonly token: string;
}

const lockPath = (dataDir: string): string => join(dataDir, 'server.lock');

/**
 * Whether a process with this pid exists (signal 0 checks without sending anything) and has not ended. A
 * process killed with -9 whose parent has not reaped it yet (a shell, a supervisor busy a moment) is a
 * zombie: signal 0 still finds it, but it holds nothing and never runs again.
 */
export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code !== 'EPERM') return false;
    // someone else's process: alive, unless it is a zombie
  }
  return !zombie(pid);
}

/** Linux: the state in `/proc/<pid>/stat` is Z (after the command name, which may hold spaces and parentheses). Elsewhere: false. */
function zombie(pid: number): boolean {
  let stat: string;
  try {
    stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  } catch (err) {
    // Gone between the signal and the read (reaped meanwhile); no /proc (not Linux): the signal's answer stands.
    return (err as NodeJS.ErrnoException).code === 'ENOENT' && existsSync('/proc/self/stat');
  }
  return stat
    .slice(stat.lastIndexOf(')') + 1)
    .trim()
    .startsWith('Z');
}

/** The lock file's content; `file` false when there is none (a file that does not parse is still a file). */
function readLock(dataDir: string): { readonly file: boolean; readonly lock: LockFile | null } {
  let text: string;
  try {
    text = readFileSync(lockPath(dataDir), 'utf8');
  } catch {
    return { file: false, lock: null };
  }
  try {
    const v = JSON.parse(text) as Partial<LockFile>;
    return { file: true, lock: typeof v.pid === 'number' ? { pid: v.pid, url: typeof v.url === 'string' ? v.url : null, token: String(v.token) } : null };
  } catch {
    return { file: true, lock: null };
  }
}

/**
 * The data dir's lock, read once: whether there is a lock file at all (servers before the lock wrote
 * only `url`), and its live holder, or null: no lock, or its holder is dead. A pid equal to ours is
 * not a holder (a container restarted with the same pid, or this process starting again).
 */
export function lockOf(dataDir: string): { readonly file: boolean; readonly holder: LockHolder | null } {
  const { file, lock: l } = readLock(dataDir);
  return { file, holder: l !== null && l.pid !== process.pid && alive(l.pid) ? { pid: l.pid, url: l.url } : null };
}

/** The live server of a data dir, or null (see lockOf). */
export function liveHolder(dataDir: string): LockHolder | null {
  return lockOf(dataDir).holder;
}

export function runningMessage(dataDir: string, h: LockHolder): string {
  return `Gantry is already running on data dir ${dataDir} (pid ${h.pid}${h.url !== null ? `, ${h.url}` : ', starting'}); stop it with \`gantry down --data-dir ${dataDir}\`, or give this one another --data-dir.`;
}

// One exit hook for every lock this process holds (tests run many servers in one process).
const held = new Set<DataDirLock>();
let hooked = false;

export class DataDirLock {
  private released = false;
  /** The lock of the folder of a SQLite database outside the data dir (`acquireWithDatabase`), held and let go with this one. */
  private companion: DataDirLock | null = null;

  private constructor(
    readonly dataDir: string,
    private readonly token: string,
  ) {
    held.add(this);
    if (!hooked) {
      hooked = true;
      process.on('exit', () => {
        for (const l of [...held]) l.releaseSync(); // process.exit() anywhere still frees the data dir
      });
    }
  }

  /** Take the data dir's lock, or throw SERVER_RUNNING naming the live holder. */
  static acquire(dataDir: string): DataDirLock {
    const token = randomUUID();
    const tmp = join(dataDir, `server.lock.${process.pid}.${token}`);
    try {
      // Inside the try: a write cut short (a full disk) leaves an empty file that nobody would remove.
      writeFileSync(tmp, JSON.stringify({ pid: process.pid, url: null, token } satisfies LockFile) + '\n', { mode: 0o600 });
      for (let attempt = 0; ; attempt++) {
        try {
          linkSync(tmp, lockPath(dataDir));
          return new DataDirLock(dataDir, token);
        } catch (err) {
          if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
        }
        const h = liveHolder(dataDir);
        if (h !== null) throw new GantryError('SERVER_RUNNING', runningMessage(dataDir, h), { pid: h.pid, url: h.url, dataDir });
        // Stale: the holder is dead. Its url file points nowhere either.
        rmQuiet(lockPath(dataDir));
        rmQuiet(join(dataDir, 'url'));
      }
    } finally {
      rmQuiet(tmp);
    }
  }

  /**
   * The data dir's lock and, for a SQLite file outside it (`--database PATH`), the lock of that file's folder: one
   * server per database file too. Another data dir's `gantry.db` is that data dir's server's (two control planes on
   * one SQLite file would each trust caches the other's writes never reach), and is refused while it runs.
   */
  static acquireWithDatabase(dataDir: string, sqliteFolder: string | null): DataDirLock {
    const lock = DataDirLock.acquire(dataDir);
    if (sqliteFolder === null) return lock;
    try {
      lock.companion = DataDirLock.acquire(sqliteFolder);
    } catch (err) {
      lock.releaseSync();
      throw err;
    }
    return lock;
  }

  /** Record the URL once the server listens, in the lock and in the `url` file the CLI reads. */
  setUrl(url: string): void {
    if (this.companion !== null) this.companion.#writeLock(url);
    this.#writeLock(url);
    writeFileSync(join(this.dataDir, 'url'), url + '\n', { mode: 0o600 });
  }

  #writeLock(url: string): void {
    const tmp = join(this.dataDir, `server.lock.${process.pid}.${this.token}`);
    try {
      writeFileSync(tmp, JSON.stringify({ pid: process.pid, url, token: this.token } satisfies LockFile) + '\n', { mode: 0o600 });
      renameSync(tmp, lockPath(this.dataDir));
    } catch (err) {
      rmQuiet(tmp);
      throw err;
    }
  }

  /** Remove the lock and the url file, if they are still ours (a later start may have taken them over). */
  releaseSync(): void {
    if (this.released) return;
    this.released = true;
    held.delete(this);
    this.companion?.releaseSync();
    if (readLock(this.dataDir).lock?.token !== this.token) return;
    rmQuiet(join(this.dataDir, 'url'));
    rmQuiet(lockPath(this.dataDir));
  }
}

function rmQuiet(file: string): void {
  try {
    unlinkSync(file);
  } catch {
    // already gone
  }
}
