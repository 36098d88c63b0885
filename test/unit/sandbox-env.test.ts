import assert from 'node:assert/strict';
import { once } from 'node:events';
import { spawn } from 'node:child_process';
import {
  chmodSync,
  closeSync,
  openSync,
  fstatSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
  writeSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { ENV_HANDOFF, envFile, envRecords, handoffDir, openHandoffDir, spawnSandboxed } from '../../src/runtime/process/sandbox-env.js';

/** The agent's own open descriptors: none may be left behind by a hand-off. */
const ownFds = (): string[] => readdirSync('/proc/self/fd');

/** `body` with a folder of its own, removed after. */
async function inDir(body: (dir: string) => Promise<void> | void): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-env-handoff-'));
  try {
    await body(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

describe("the environment's hand-off file (sandbox-env.ts)", () => {
  it('is a 0600 regular file no name leads to, read-only, at offset 0, holding the records', () =>
    inDir((dir) => {
      const text = envRecords({ A: '1', B: 'two words\n' });
      const fd = envFile(dir, text);
      try {
        const st = fstatSync(fd);
        assert.ok(st.isFile());
        assert.equal(st.nlink, 0);
        assert.equal(st.mode & 0o777, 0o600);
        assert.deepEqual(readdirSync(dir), []);
        assert.throws(() => writeSync(fd, 'x'), { code: 'EBADF' });
        assert.equal(readFileSync(fd, 'utf8'), text); // from the descriptor's own offset
      } finally {
        closeSync(fd);
      }
    }));

  it('its folder is the agent alone, whatever it was made with', () =>
    inDir(async (root) => {
      mkdirSync(join(root, 'env-handoff'), { mode: 0o755 });
      chmodSync(join(root, 'env-handoff'), 0o755);
      await openHandoffDir(root);
      assert.equal(statSync(handoffDir(root)).mode & 0o777, 0o700);
    }));

  it('is never a pipe: bwrap gets a regular file at fd 3, unlinked and at offset 0, and the agent keeps no copy', () =>
    inDir(async (dir) => {
      // A bwrap of the test's own that says what its fd 3 is: bash reads a pipe one byte at a time (180 ms for 512 KiB).
      const bin = join(dir, 'bin');
      const handoff = join(dir, 'handoff');
      mkdirSync(bin);
      mkdirSync(handoff, { mode: 0o700 });
      const out = join(dir, 'seen');
      writeFileSync(
        join(bin, 'bwrap'),
        `#!/bin/sh\n{ stat -L -c '%F|%h|%a' /proc/$$/fd/3; grep '^pos:' /proc/$$/fdinfo/3; } > "$1"; [ -f /proc/$$/fd/3 ] && cat <&3 > "$1.env"\n`,
        { mode: 0o755 },
      );
      const env = { BIG: 'x'.repeat(512 * 1024), GANTRY_INSTANCE_ID: '7' };
      const before = ownFds();
      const child = spawnSandboxed([out], { env, path: `${bin}:/usr/bin:/bin`, handoffDir: handoff, detached: false, stdio: 'pipe' });
      child.stdin?.end();
      assert.deepEqual(readdirSync(handoff), [], 'no name holds the environment once bwrap runs');
      const [code] = (await once(child, 'close')) as [number | null];
      assert.equal(code, 0);
      assert.equal(ownFds().length, before.length, 'the agent closed its copy');
      assert.equal(readFileSync(out, 'utf8'), 'regular file|0|600\npos:\t0\n');
      assert.equal(readFileSync(`${out}.env`, 'utf8'), envRecords(env));
    }));

  it('the hand-off closes every descriptor past stdio the agent inherited, and exports the environment', () =>
    inDir(async (dir) => {
      const fd = envFile(dir, envRecords({ A: 'one', B: 'two words' }));
      const extra = [openSync(join(dir, 'x'), 'w'), openSync(join(dir, 'y'), 'w')];
      try {
        // The spawn's stdio past 2 is what a descriptor without close-on-exec is: the child holds it as 3, 4 and 5.
        // The workload's shell lists its own (`true` last: it is not replaced by ls).
        const child = spawn(ENV_HANDOFF[0] as string, [...ENV_HANDOFF.slice(1), 'bash', '-c', 'echo "$A|$B"; ls /proc/$$/fd; true'], {
          env: { PATH: process.env.PATH },
          stdio: ['ignore', 'pipe', 'pipe', fd, ...extra],
        });
        let out = '';
        let err = '';
        child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
        child.stderr?.on('data', (d: Buffer) => (err += d.toString()));
        const [code] = (await once(child, 'close')) as [number];
        assert.deepEqual([code, err], [0, '']);
        const [vars, ...fds] = out.trim().split('\n');
        assert.equal(vars, 'one|two words');
        assert.deepEqual(fds.sort(), ['0', '1', '2'], 'before, 4 and 5 reached the workload');
      } finally {
        for (const x of [fd, ...extra]) closeSync(x);
      }
    }));

  it('leaves no file and no descriptor when bwrap cannot be spawned', () =>
    inDir((dir) => {
      const before = ownFds();
      // A NUL in an argument: spawn throws at once, before any child.
      assert.throws(() => spawnSandboxed(['a\0b'], { env: { A: '1' }, path: '/usr/bin:/bin', handoffDir: dir, detached: false, stdio: 'pipe' }));
      assert.deepEqual(readdirSync(dir), []);
      assert.equal(ownFds().length, before.length);
    }));
});
