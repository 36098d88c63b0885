import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { alive, DataDirLock, lockOf } from '../../src/main/data-dir-lock.js';

/**
 * A zombie: a child of `sleep` (which never reaps it) that has ended. The shell prints the child's pid and
 * becomes `sleep`, so the child's parent lives on without waiting for it, as a process killed with -9 stays
 * until its parent reaps it.
 */
async function zombie(): Promise<{ pid: number; parent: number; done: () => void }> {
  const sh = spawn('sh', ['-c', 'sleep 0 & echo $!; exec sleep 30'], { stdio: ['ignore', 'pipe', 'ignore'] });
  const pid = await new Promise<number>((resolve) => sh.stdout.once('data', (b: Buffer) => resolve(Number(String(b).trim()))));
  sh.stdout.destroy();
  return { pid, parent: sh.pid as number, done: () => void sh.kill('SIGKILL') };
}

describe('data dir lock', { skip: process.platform !== 'linux' && 'zombies are read from /proc (Linux)' }, () => {
  it('a zombie (killed, not yet reaped) is not alive; its running parent is', async () => {
    const z = await zombie();
    try {
      for (let i = 0; i < 100 && alive(z.pid); i++) await new Promise((r) => setTimeout(r, 20)); // `sleep 0` ends
      assert.equal(alive(z.pid), false);
      assert.equal(alive(z.parent), true);
      assert.equal(alive(process.pid), true);
    } finally {
      z.done();
    }
  });

  it('a lock held by a zombie is stale: the next start takes it over', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'gantry-lock-'));
    const z = await zombie();
    try {
      for (let i = 0; i < 100 && alive(z.pid); i++) await new Promise((r) => setTimeout(r, 20));
      await writeFile(join(dir, 'server.lock'), JSON.stringify({ pid: z.pid, url: null, token: 't' }));
      assert.equal(lockOf(dir).holder, null);
      const lock = DataDirLock.acquire(dir);
      lock.releaseSync();
    } finally {
      z.done();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
