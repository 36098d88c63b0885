import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, readdir, readlink, rm, stat, symlink, writeFile, lstat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { readCode, writeAuthorizedKeys } from '../../src/runtime/files.js';
import { unlinkEntry, writeInside } from '../../src/runtime/write-inside.js';
import { SWAPPER, swapperRuns } from '../helpers/link-swapper.js';

/**
 * Gantry's writes into folders a workload can write too (a container's /workspace and /.gantry): a link the
 * workload left there never sends the write elsewhere on the host, and a file it left is read only if it is a
 * plain file (never a link, a FIFO or a device).
 */
describe('writes and reads in a folder the workload controls', () => {
  let dir: string;
  let disk: string;
  let victim: string;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-write-inside-'));
    disk = join(dir, 'disk');
    victim = join(dir, 'victim');
    await mkdir(disk);
    await mkdir(victim);
    await writeFile(join(victim, 'precious'), 'host file\n');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  const victimUntouched = async (): Promise<void> => {
    assert.equal(await readFile(join(victim, 'precious'), 'utf8'), 'host file\n');
    await assert.rejects(stat(join(victim, 'authorized_keys')), /ENOENT/);
  };

  it('.ssh as a link to a host folder: replaced by a folder of its own', async () => {
    await symlink(victim, join(disk, '.ssh'));
    await writeAuthorizedKeys(disk, ['ssh-ed25519 AAAA one']);
    await victimUntouched();
    assert.ok((await lstat(join(disk, '.ssh'))).isDirectory());
    assert.equal(await readFile(join(disk, '.ssh', 'authorized_keys'), 'utf8'), 'ssh-ed25519 AAAA one\n');
    assert.equal((await stat(join(disk, '.ssh', 'authorized_keys'))).mode & 0o777, 0o600);
  });

  it('authorized_keys as a link to a host file: the link is replaced, the file kept', async () => {
    await rm(join(disk, '.ssh', 'authorized_keys'));
    await symlink(join(victim, 'precious'), join(disk, '.ssh', 'authorized_keys'));
    await writeAuthorizedKeys(disk, ['ssh-ed25519 AAAA two']);
    await victimUntouched();
    assert.ok((await lstat(join(disk, '.ssh', 'authorized_keys'))).isFile());
    assert.equal(await readFile(join(disk, '.ssh', 'authorized_keys'), 'utf8'), 'ssh-ed25519 AAAA two\n');
  });

  it('a file where a folder belongs is replaced; a link at the file name too', async () => {
    await rm(join(disk, '.ssh'), { recursive: true });
    await writeFile(join(disk, '.ssh'), 'not a folder');
    await writeAuthorizedKeys(disk, ['k3']);
    assert.equal(await readFile(join(disk, '.ssh', 'authorized_keys'), 'utf8'), 'k3\n');
    await symlink(join(victim, 'precious'), join(disk, 'onstart.sh'));
    await writeInside(disk, ['onstart.sh'], 'echo hi', { mode: 0o644, dirMode: 0o755 });
    await victimUntouched();
    assert.equal(await readFile(join(disk, 'onstart.sh'), 'utf8'), 'echo hi');
    assert.equal(await readlink(join(disk, 'onstart.sh')).catch((e: NodeJS.ErrnoException) => e.code), 'EINVAL', 'a plain file, not a link');
  });

  it('reads an exit code only from a plain file', async () => {
    await writeFile(join(disk, 'exit_code'), '3\n');
    assert.equal(await readCode(join(disk, 'exit_code')), 3);
    await writeFile(join(victim, 'code'), '7\n');
    await symlink(join(victim, 'code'), join(disk, 'linked_code'));
    assert.equal(await readCode(join(disk, 'linked_code')), null);
    await symlink('/dev/zero', join(disk, 'zero_code'));
    assert.equal(await readCode(join(disk, 'zero_code')), null);
    execFileSync('mkfifo', [join(disk, 'fifo_code')]);
    assert.equal(await readCode(join(disk, 'fifo_code')), null, 'a FIFO is not waited on');
  });

  it('removes a link or a file in the way, never a folder', async () => {
    const full = join(dir, 'full');
    await mkdir(full);
    await writeFile(join(full, 'kept'), 'x');
    await unlinkEntry(full);
    assert.equal(await readFile(join(full, 'kept'), 'utf8'), 'x', 'a folder there now is left as it is');
    await symlink(victim, join(dir, 'link'));
    await unlinkEntry(join(dir, 'link'));
    await assert.rejects(lstat(join(dir, 'link')), /ENOENT/);
    await victimUntouched();
  });

  it(
    'a workload swapping a link and a full folder at .ssh never gets a host file deleted',
    { skip: swapperRuns() ? false : 'needs python3 and renameat2' },
    async () => {
      const box = join(dir, 'race');
      const target = join(dir, 'race-victim');
      await mkdir(box);
      await mkdir(target);
      for (let i = 0; i < 20; i++) await writeFile(join(target, `f${i}`), 'host\n');
      const seconds = 4;
      const child = spawn('python3', ['-c', SWAPPER, box, target, String(seconds)], { stdio: 'ignore' });
      const exited = new Promise((r) => child.once('exit', r));
      const end = Date.now() + seconds * 1000 - 200;
      while (Date.now() < end && (await readdir(target)).length === 20) await writeAuthorizedKeys(box, ['k']).catch(() => undefined);
      child.kill();
      await exited;
      assert.equal((await readdir(target)).length, 20, 'the host folder the link named keeps its files');
    },
  );
});
