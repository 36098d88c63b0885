import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CopyRunner, type CopyHost } from '../../src/agent/copy-runner.js';
import type { CopyOrder } from '../../src/control/hosts/copy-order.js';
import { asCopyPath, parseCopyPath } from '../../src/domain/instance/copy-path.js';
import type { ExecProcess } from '../../src/runtime/runtime.js';

/** A host whose instances are folders (HOME = the folder), running the runner's real commands; `endless` instances pour out bytes forever. */
function folderHost(root: string, endless: Set<number>): CopyHost {
  return {
    copyRoot: 'home',
    spawn(instanceId, argv) {
      const [cmd, ...args] = endless.has(instanceId) ? ['yes', 'x'] : argv;
      const child = spawn(cmd as string, args, { env: { PATH: process.env.PATH ?? '/usr/bin:/bin', HOME: join(root, String(instanceId)) }, detached: true });
      const done = new Promise<{ code: number | null; signal: string | null }>((resolve) => child.once('close', (code, signal) => resolve({ code, signal })));
      const p: ExecProcess = {
        stdin: child.stdin,
        stdout: child.stdout,
        stderr: child.stderr,
        done,
        kill: () => process.kill(-(child.pid as number), 'SIGKILL'),
      };
      return Promise.resolve(p);
    },
  };
}

const order = (src: number, s: string, dst: number, d: string, timeoutMs = 60_000): CopyOrder => ({
  src: { instanceId: src, path: parseCopyPath(s, 'src_path') },
  dst: { instanceId: dst, path: parseCopyPath(d, 'dst_path') },
  via: null,
  timeoutMs,
});

describe('copy paths', () => {
  it("keep rsync's trailing-slash rule and refuse '..'", () => {
    assert.deepEqual(parseCopyPath('/data/', 'p'), { segments: ['data'], contents: true });
    assert.deepEqual(parseCopyPath('data', 'p'), { segments: ['data'], contents: false });
    assert.deepEqual(parseCopyPath('/', 'p'), { segments: [], contents: true });
    assert.deepEqual(parseCopyPath('/a/./b//c', 'p'), { segments: ['a', 'b', 'c'], contents: false });
    for (const bad of ['..', '/a/../..', '../x', 'a/..']) assert.throws(() => parseCopyPath(bad, 'p'), /'\.\.'/);
    assert.throws(() => parseCopyPath('', 'p'), /must be a path/);
    assert.throws(() => parseCopyPath(7, 'p'), /must be a path/);
    assert.equal(asCopyPath({ segments: ['a', '..'], contents: false }), null);
    assert.equal(asCopyPath({ segments: ['a/b'], contents: false }), null);
    assert.deepEqual(asCopyPath({ segments: [], contents: false }), { segments: [], contents: true });
  });
});

describe('the agent copy runner', () => {
  let root: string;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'gantry-copy-unit-'));
    await mkdir(join(root, '1', 'data', 'sub'), { recursive: true });
    await mkdir(join(root, '2'), { recursive: true });
    await writeFile(join(root, '1', 'data', 'a.txt'), 'alpha\n');
    await writeFile(join(root, '1', 'data', 'sub', '-dash'), 'dash\n');
  });
  after(() => rm(root, { recursive: true, force: true }));

  it('streams a folder or its contents from one instance into a folder of another', async () => {
    const r = new CopyRunner(folderHost(root, new Set()));
    const done = await r.run(order(1, '/data/', 2, '/in'));
    assert.ok(done.bytes > 0);
    assert.equal(await readFile(join(root, '2', 'in', 'a.txt'), 'utf8'), 'alpha\n');
    await r.run(order(1, 'data/sub/-dash', 2, '/'));
    assert.equal(await readFile(join(root, '2', '-dash'), 'utf8'), 'dash\n');
    await r.run(order(1, '/data', 2, '/whole'));
    assert.equal(await readFile(join(root, '2', 'whole', 'data', 'sub', '-dash'), 'utf8'), 'dash\n');
    await assert.rejects(r.run(order(1, '/missing', 2, '/x')), /reading \/missing failed: .*No such file/);
  });

  it('cancel ends the copies into an instance; a copy past its bound is ended', async () => {
    const r = new CopyRunner(folderHost(root, new Set([3])));
    const running = r.run(order(3, '/', 2, '/endless'));
    const cancelled = assert.rejects(running, /was cancelled/);
    // The copy registers once both sides run; cancel until it has.
    let n = 0;
    for (let i = 0; i < 500 && n === 0; i++) {
      n = r.cancel(2);
      if (n === 0) await new Promise((res) => setImmediate(res));
    }
    assert.equal(n, 1);
    await cancelled;
    assert.equal(r.cancel(2), 0);
    await assert.rejects(r.run(order(3, '/', 2, '/endless', 300)), /did not finish within 300 ms/);
  });
});
