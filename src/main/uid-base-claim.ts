import { existsSync, linkSync, lstatSync, readFileSync, realpathSync, unlinkSync, writeFileSync } from 'node:fs';
import { randomUUID } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * Which Gantry install runs workloads under a sandbox uid base. Instance N of an install runs as host uid
 * `base + N`, and its runtime counts every process of that uid as instance N's (one that left its group
 * and cleared its environment kept its uid): two installs with one base would take each other's
 * processes for their own, adopt them as running and kill them at a stop. So a base is claimed by a data
 * dir, in a file of the machine's lock folder (`/run/lock`, emptied at boot, when no workload survives),
 * and kept while that data dir exists: its workloads run on while its Gantry is down.
 */
export interface UidBaseClaim {
  readonly dataDir: string;
  readonly pid: number;
}

const claimPath = (base: number, dir: string): string => join(dir, `gantry-sandbox-uids-${base}.json`);

/**
 * The claim in `file`, or null: none, unreadable, or not one a Gantry of this user made (the lock folder is
 * writable by every user: a file another user planted there, or a link, is no claim and is replaced).
 */
function readClaim(file: string): UidBaseClaim | null {
  try {
    const st = lstatSync(file);
    if (!st.isFile() || st.uid !== process.getuid?.()) return null;
    const v = JSON.parse(readFileSync(file, 'utf8')) as Partial<UidBaseClaim>;
    return typeof v.dataDir === 'string' && typeof v.pid === 'number' ? { dataDir: v.dataDir, pid: v.pid } : null;
  } catch {
    return null;
  }
}

/** The lock folder of the machine: `/run/lock` where there is one. */
export function machineLockDir(): string {
  return existsSync('/run/lock') ? '/run/lock' : tmpdir();
}

/**
 * Claim files this process wrote (tests run several servers in one process). Remembered here, not read
 * from the file's pid: a later Gantry may get the pid of one that has stopped, whose data dir remains.
 */
const madeHere = new Map<string, Set<string>>();

/** The claim of another install that keeps `base` from `dataDir` (its data dir still there), or null. */
function heldElsewhere(file: string, dataDir: string): UidBaseClaim | null {
  const held = readClaim(file);
  return held !== null && held.dataDir !== dataDir && !madeHere.get(file)?.has(held.dataDir) && existsSync(held.dataDir) ? held : null;
}

function taken(base: number, held: UidBaseClaim, file: string): Error {
  return new Error(
    `The sandbox uid base ${base} is taken by the Gantry of data dir ${held.dataDir}: instance N of both would run as uid ${base}+N, ` +
      'and each would take the other’s processes for its own and stop them. Give each Gantry on one machine its own sandboxUidBase ' +
      '(GANTRY_SANDBOX_UID_BASE): change it on an install that has no instances yet, since instances made under the old base keep disks ' +
      `owned by its uids; or, if that install is gone for good, remove ${held.dataDir} or ${file}.`,
  );
}

const resolved = (dataDir: string): string => (existsSync(dataDir) ? realpathSync(dataDir) : dataDir);

/**
 * Throw as `claimUidBase` would, writing nothing: `gantry up` asks before it makes its data dir and admin
 * account, so a refused start leaves no half-made install behind (the claim itself waits for the sandbox probe).
 */
export function checkUidBase(base: number, dataDir: string, dir = machineLockDir()): void {
  const held = uidBaseHolder(base, dataDir, dir);
  if (held !== null) throw taken(base, held, claimPath(base, dir));
}

/** The claim of another install that keeps `base` from `dataDir`, or null when `dataDir` may take it. */
export function uidBaseHolder(base: number, dataDir: string, dir = machineLockDir()): UidBaseClaim | null {
  return heldElsewhere(claimPath(base, dir), resolved(dataDir));
}

/**
 * Claim `base` for `dataDir`, or throw naming the install that holds it. A claim whose data dir is gone
 * is taken over; so is one this process made.
 */
export function claimUidBase(base: number, dataDir: string, dir = machineLockDir()): void {
  const mine: UidBaseClaim = { dataDir: resolved(dataDir), pid: process.pid };
  const file = claimPath(base, dir);
  const tmp = `${file}.${process.pid}.${randomUUID()}`;
  // Created, never opened through a link someone made at that name in a folder every user may write.
  writeFileSync(tmp, JSON.stringify(mine) + '\n', { mode: 0o644, flag: 'wx' });
  try {
    for (let attempt = 0; ; attempt++) {
      try {
        linkSync(tmp, file); // whole or absent, never half written
        madeHere.set(file, (madeHere.get(file) ?? new Set()).add(mine.dataDir));
        return;
      } catch (err) {
        if ((err as NodeJS.ErrnoException).code !== 'EEXIST' || attempt >= 3) throw err;
      }
      const held = heldElsewhere(file, mine.dataDir);
      if (held !== null) throw taken(base, held, file);
      try {
        unlinkSync(file); // ours, made by this process, gone, or no claim: replaced
      } catch {
        // removed meanwhile by another start: the next link decides
      }
    }
  } finally {
    try {
      unlinkSync(tmp);
    } catch {
      // already gone
    }
  }
}
