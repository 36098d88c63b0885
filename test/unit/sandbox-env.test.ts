import assert from 'node:assert/strict';
import { once } from 'node:events';
import { chmodSync, closeSync, fstatSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { envFile, envRecords, handoffDir, openHandoffDir, spawnSandboxed } from '../../src/runtime/process/sandbox-env.js';

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

  it('leaves no file and no descriptor when bwrap cannot be spawned', () =>
    inDir((dir) => {
      const before = ownFds();
      // A NUL in an argument: spawn throws at once, before any child.
      assert.throws(() => spawnSandboxed(['a\0b'], { env: { A: '1' }, path: '/usr/bin:/bin', handoffDir: dir, detached: false, stdio: 'pipe' }));
      assert.deepEqual(readdirSync(dir), []);
      assert.equal(ownFds().length, before.length);
    }));
});
