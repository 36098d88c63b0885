import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A block of 100 host ports for one test gantry's instances, held until released. Test files run
 * in parallel processes; two gantries drawing the same block at random gave one's worker the other's
 * port (EADDRINUSE, or a probe answered by the wrong worker). A block is held by a directory made
 * with mkdir (atomic) naming its process; a block whose process is gone is taken over. Blocks lie
 * below Linux's ephemeral range (32768+), where the servers' own port 0 lands, and below 30000,
 * which a few tests use as fixed ports. A released block rests for a minute before it is drawn
 * again: what its last holder started (a container's port forwarder, a socket closing) may outlive
 * the gantry that started it by a moment.
 */
const DIR = join(tmpdir(), 'gantry-test-port-blocks');
const FIRST = 20000;
const BLOCKS = 100;
const REST_MS = 60_000;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

export function reservePortBlock(): { readonly start: number; release(): void } {
  mkdirSync(DIR, { recursive: true });
  const offset = Math.floor(Math.random() * BLOCKS);
  for (let i = 0; i < BLOCKS; i++) {
    const block = (offset + i) % BLOCKS;
    const lock = join(DIR, String(block));
    try {
      mkdirSync(lock);
    } catch {
      let owner = NaN;
      try {
        owner = Number(readFileSync(join(lock, 'pid'), 'utf8'));
      } catch {
        continue; // being made right now by its owner
      }
      const released = Number(readFileSync(join(lock, 'released'), { encoding: 'utf8', flag: 'a+' }) || NaN);
      if (Number.isFinite(released) ? Date.now() - released < REST_MS : owner === process.pid || alive(owner)) continue;
      rmSync(lock, { recursive: true, force: true });
      try {
        mkdirSync(lock);
      } catch {
        continue;
      }
    }
    writeFileSync(join(lock, 'pid'), String(process.pid));
    // Two processes taking over one stale block at once: the last pid written wins, the other moves on.
    if (readFileSync(join(lock, 'pid'), 'utf8') !== String(process.pid)) continue;
    return { start: FIRST + block * 100, release: () => writeFileSync(join(lock, 'released'), String(Date.now())) };
  }
  throw new Error(`no free block of test ports under ${DIR}`);
}
