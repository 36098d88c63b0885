import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { chmod, lstat, mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { copyTreeInside } from '../../src/runtime/copy-inside.js';
import { SWAPPER, swapperRuns } from '../helpers/link-swapper.js';

/**
 * A volume cloned while an instance that links it runs (the workload may change it during the copy): the copy
 * keeps files, folders, links, modes and times, follows no link, and never takes a host file into the clone.
 */
describe('copying a tree a workload may change meanwhile', () => {
  let dir: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-copy-inside-'));
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('keeps files, folders, links and modes, and copies links as links', async () => {
    const from = join(dir, 'from');
    const to = join(dir, 'to');
    const victim = join(dir, 'victim');
    await mkdir(join(from, 'a', 'b'), { recursive: true });
    await mkdir(victim);
    await mkdir(to);
    await writeFile(join(victim, 'secret'), 'host\n');
    await writeFile(join(from, 'top.txt'), 'top');
    await writeFile(join(from, 'a', 'b', 'deep.bin'), Buffer.alloc(300_000, 7));
    await chmod(join(from, 'top.txt'), 0o640);
    await chmod(join(from, 'a'), 0o750);
    await symlink(victim, join(from, 'to-host'));
    await symlink('a/b/deep.bin', join(from, 'rel'));
    execFileSync('mkfifo', [join(from, 'fifo')]);
    await copyTreeInside(from, to);
    assert.deepEqual((await readdir(to)).sort(), ['a', 'rel', 'to-host', 'top.txt'], 'the FIFO is left out');
    assert.equal(await readFile(join(to, 'top.txt'), 'utf8'), 'top');
    assert.equal((await stat(join(to, 'top.txt'))).mode & 0o777, 0o640);
    assert.equal((await stat(join(to, 'a'))).mode & 0o777, 0o750);
    assert.deepEqual(await readFile(join(to, 'a', 'b', 'deep.bin')), Buffer.alloc(300_000, 7));
    assert.ok((await lstat(join(to, 'to-host'))).isSymbolicLink());
    assert.equal(await readlink(join(to, 'to-host')), victim, 'a link, not the host folder it names');
    assert.equal(await readlink(join(to, 'rel')), 'a/b/deep.bin');
    await copyTreeInside(join(dir, 'absent'), join(dir, 'to')); // no source folder: nothing to copy
  });

  it(
    'a workload swapping a link to a host folder and a full folder never gets a host file into the copy',
    { skip: swapperRuns() ? false : 'needs python3 and renameat2' },
    async () => {
      const box = join(dir, 'race');
      const victim = join(dir, 'race-victim');
      await mkdir(box);
      await mkdir(victim);
      for (let i = 0; i < 20; i++) await writeFile(join(victim, `s${i}`), 'secret\n');
      const seconds = 4;
      const child = spawn('python3', ['-c', SWAPPER, box, victim, String(seconds)], { stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      const end = Date.now() + seconds * 1000 - 200;
      let copies = 0;
      const leaked: string[] = [];
      while (Date.now() < end && leaked.length === 0) {
        const to = join(dir, `race-to-${copies++}`);
        await mkdir(to);
        await copyTreeInside(box, to).catch(() => undefined);
        for (const sub of ['.ssh', '.alt']) {
          // A link copied as a link names the host folder, as it did in the source: only what was copied counts.
          if ((await lstat(join(to, sub)).catch(() => null))?.isDirectory() !== true) continue;
          const names = await readdir(join(to, sub)).catch(() => [] as string[]);
          for (const n of names) if ((await readFile(join(to, sub, n), 'utf8').catch(() => '')) === 'secret\n') leaked.push(`${sub}/${n}`);
        }
        await rm(to, { recursive: true, force: true });
      }
      child.kill();
      await exited;
      assert.deepEqual(leaked, [], `no host file in any of ${copies} copies`);
    },
  );
});
