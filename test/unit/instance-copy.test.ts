import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openTestSshAccess } from '../helpers/ssh-access.js';
import ssh2 from 'ssh2';
import { CopyRunner, type CopyHost } from '../../src/agent/copy-runner.js';
import { type SshAccess } from '../../src/agent/ssh-access.js';
import type { Runtime, WorkloadSpec } from '../../src/runtime/runtime.js';
import { reservePortBlock } from '../helpers/ports.js';
import { until } from '../helpers/serverless.js';
import type { CopyOrder } from '../../src/control/hosts/copy-order.js';
import { asCopyPath, COPY_CANCELLED, parseCopyPath } from '../../src/domain/instance/copy-path.js';
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
        kill: () => {
          try {
            process.kill(-(child.pid as number), 'SIGKILL');
          } catch {
            // already gone
          }
        },
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

  it('a source that fails on its own is a failed copy, even when the destination finished first', async () => {
    // A tar of a path that is not there: an empty archive, then its error and exit code, after the unpacking
    // side has read the archive's end and exited 0 (a race that made such a copy read as done).
    const host = folderHost(root, new Set());
    const staged = (destination: string): CopyHost => ({
      copyRoot: host.copyRoot,
      spawn: (instanceId, argv, tty) =>
        host.spawn(
          instanceId,
          instanceId === 1
            ? ['sh', '-c', 'echo "tar: missing: Cannot stat: No such file or directory" >&2; head -c 10240 /dev/zero; sleep 0.3; exit 2']
            : ['sh', '-c', destination],
          tty,
        ),
    });
    // The destination exits after its read: its exit or the write into its closed input may be seen first.
    await assert.rejects(new CopyRunner(staged('head -c 1024 >/dev/null')).run(order(1, '/missing', 2, '/x')), /reading \/missing failed: .*No such file/);
    // The write into its closed input is seen first, for certain: it closes its input and exits only later.
    await assert.rejects(new CopyRunner(staged('exec 0<&-; sleep 0.6')).run(order(1, '/missing', 2, '/x')), /reading \/missing failed: .*No such file/);
  });

  it('a destination that stops reading yet goes on running is ended after a grace, and the copy fails', async () => {
    const host = folderHost(root, new Set());
    const hung: CopyHost = {
      copyRoot: host.copyRoot,
      spawn: (instanceId, _argv, tty) =>
        host.spawn(instanceId, instanceId === 1 ? ['sh', '-c', 'head -c 200000 /dev/zero'] : ['sh', '-c', 'exec 0<&-; sleep 60'], tty),
    };
    await assert.rejects(new CopyRunner(hung, { destinationGraceMs: 200 }).run(order(1, '/data', 2, '/x')), /writing \/x failed/);
  });

  it('cancel ends the copies into an instance; a copy past its bound is ended', async () => {
    const r = new CopyRunner(folderHost(root, new Set([3])));
    const running = r.run(order(3, '/', 2, '/endless'));
    const cancelled = assert.rejects(running, { message: COPY_CANCELLED });
    // After a moment, when both sides run on a quiet machine (a cancel while they start is the next test's case).
    await new Promise((res) => setTimeout(res, 100));
    assert.equal(r.cancel(2), 1);
    await cancelled;
    assert.equal(r.cancel(2), 0);
    await assert.rejects(r.run(order(3, '/', 2, '/endless', 300)), /did not finish within 300 ms/);
    // The agent stopping ends its copies, not as cancelled (nobody asked).
    const ending = r.run(order(3, '/', 2, '/endless'));
    for (let i = 0; i < 500; i++) {
      r.close();
      const settled = await Promise.race([
        ending.then(
          () => true,
          () => true,
        ),
        new Promise((res) => setImmediate(() => res(false))),
      ]);
      if (settled) break;
    }
    await assert.rejects(ending, { message: 'the copy ended as its host agent stopped' });
  });

  it('a cancel or the agent stopping while a side still starts ends the copy then, not at its bound', async () => {
    const host = folderHost(root, new Set([3]));
    const started: ExecProcess[] = [];
    let release!: () => void;
    // The destination's side takes its time to start (an SSH login may take 30 s).
    const slow: CopyHost = {
      copyRoot: 'home',
      spawn: async (id, argv, tty) => {
        if (id === 2) await new Promise<void>((r) => (release = r));
        const p = await host.spawn(id, argv, tty);
        started.push(p);
        return p;
      },
    };
    for (const [end, message] of [
      [(r: CopyRunner) => assert.equal(r.cancel(2), 1), COPY_CANCELLED],
      [(r: CopyRunner) => r.close(), 'the copy ended as its host agent stopped'],
    ] as const) {
      const r = new CopyRunner(slow);
      const running = r.run(order(3, '/', 2, '/endless', 60_000));
      await new Promise((res) => setImmediate(res));
      end(r); // before: cancel found no copy (0), and the copy ran on until its bound
      release();
      await assert.rejects(running, { message });
      assert.equal(r.cancel(2), 0, 'nothing left running');
      await Promise.all(started.splice(0).map((p) => p.done));
    }
  });

  it("a side whose start the runtime does not end is given up at the copy's bound, and ended when it comes", async () => {
    const host = folderHost(root, new Set([3]));
    for (const stuck of [2, 3]) {
      let release!: () => void;
      const late: ExecProcess[] = [];
      const slow: CopyHost = {
        copyRoot: 'home',
        spawn: async (id, argv, tty) => {
          if (id === stuck) await new Promise<void>((r) => (release = r));
          const p = await host.spawn(id, argv, tty);
          if (id === stuck) late.push(p);
          return p;
        },
      };
      // Before, the copy waited for the start, past its bound (here for ever).
      await assert.rejects(new CopyRunner(slow).run(order(3, '/', 2, '/endless', 300)), /did not finish within 300 ms/);
      release();
      await until('the late side started', async () => late.length === 1);
      const ended = await (late[0] as ExecProcess).done;
      assert.notEqual(ended.signal, null, 'the side that came late was ended');
    }
  });

  it('four copies into one instance at once, and 32 on one host: one more is refused, the others go on', async () => {
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    // Every destination's side waits: the copies stay running.
    const waiting: CopyHost = { copyRoot: 'home', spawn: () => held.then(() => Promise.reject(new Error('not started'))) };
    const r = new CopyRunner(waiting);
    const running = [1, 2, 3, 4].map(() => r.run(order(1, '/data', 2, '/in')));
    await assert.rejects(r.run(order(1, '/data', 2, '/in')), /4 copies into this instance run already \(4 at most\)/);
    for (let dst = 10; running.length < 32; dst++) running.push(r.run(order(1, '/data', dst, '/in')));
    await assert.rejects(r.run(order(1, '/data', 99, '/in')), /this host runs 32 copies already \(32 at most\)/);
    r.close();
    release();
    const ends = await Promise.allSettled(running);
    assert.ok(ends.every((e) => e.status === 'rejected'));
  });
});

/** Whether a login with this key gets in, and what an exec of `command` then answers (exit code, or 'refused'). */
function login(port: number, privateKey: string, command: string): Promise<'denied' | 'refused' | number | null> {
  return new Promise((resolve) => {
    const c = new ssh2.Client();
    c.once('error', () => resolve('denied'));
    c.once('ready', () =>
      c.exec(command, (err, ch) => {
        if (err) return (c.end(), resolve('refused'));
        ch.resume();
        ch.stderr.resume();
        ch.end();
        ch.once('exit', (code: number | null) => (c.end(), resolve(code)));
      }),
    );
    c.connect({ host: '127.0.0.1', port, username: 'root', privateKey, readyTimeout: 20_000 });
  });
}

describe('copies from another host: the one-time login', () => {
  let root: string;
  let ports: { start: number; release(): void };
  let src: SshAccess;
  let dst: SshAccess;
  before(async () => {
    root = await mkdtemp(join(tmpdir(), 'gantry-copy-grant-'));
    ports = reservePortBlock();
    const host = folderHost(join(root, 'disks'), new Set([1]));
    const exec = ((id: number, r: { argv: readonly string[] }) => host.spawn(id, r.argv, null)) as unknown as Runtime['exec'];
    const open = (dir: string): Promise<SshAccess> => openTestSshAccess(join(root, dir), { exec });
    [src, dst] = await Promise.all([open('a'), open('b')]);
    await mkdir(join(root, 'disks', '2'), { recursive: true });
    await dst.starting({ instanceId: 2, sshPort: ports.start, sshKeys: [], env: {} } as unknown as WorkloadSpec);
    await src.starting({ instanceId: 1, sshPort: ports.start + 1, sshKeys: [], env: {} } as unknown as WorkloadSpec);
  });
  after(async () => {
    await Promise.all([src.close(), dst.close()]);
    ports.release();
    await rm(root, { recursive: true, force: true });
  });

  it('a copy cancelled while it logs in to the destination ends then, not when the login gives up', async () => {
    // A destination that takes the connection and never answers: the login waits its whole ready timeout.
    const silent = createServer((s) => s.on('error', () => undefined));
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    try {
      const g = dst.grantCopy(2, 60_000);
      const r = new CopyRunner(folderHost(join(root, 'disks'), new Set([1])));
      const started = Date.now();
      const push = r.run({
        src: { instanceId: 1, path: parseCopyPath('/', 'src_path') },
        dst: { instanceId: 2, path: parseCopyPath('/in', 'dst_path') },
        via: { host: '127.0.0.1', port: (silent.address() as { port: number }).port, ...g },
        timeoutMs: 60_000,
      });
      await new Promise((res) => setTimeout(res, 200));
      assert.equal(r.cancel(2), 1);
      await assert.rejects(push, { message: COPY_CANCELLED });
      // Before: it waited for the login's 30 s before it saw the cancel.
      assert.ok(Date.now() - started < 20_000, `ended after ${Date.now() - started} ms`);
    } finally {
      silent.close();
    }
  });

  it('a grant logs in once, only to unpack, and cancel copy on the destination ends the push', async () => {
    const spent = dst.grantCopy(2, 60_000);
    assert.equal(await login(ports.start, spent.privateKey, 'id'), 'refused');
    assert.equal(await login(ports.start, spent.privateKey, 'gantry-copy-in {"segments":[],"contents":true}'), 'denied');
    const g = dst.grantCopy(2, 60_000);
    const push = src.copy({
      src: { instanceId: 1, path: parseCopyPath('/', 'src_path') },
      dst: { instanceId: 2, path: parseCopyPath('/in', 'dst_path') },
      via: { host: '127.0.0.1', port: ports.start, ...g },
      timeoutMs: 60_000,
    });
    // The destination says the copy was cancelled before it ends the unpacking: the source reports that, not a failed write.
    const ended = assert.rejects(push, { message: COPY_CANCELLED });
    let n = 0;
    for (let i = 0; i < 400 && n === 0; i++) {
      n = dst.cancelCopies(2);
      if (n === 0) await new Promise((res) => setTimeout(res, 25));
    }
    assert.equal(n, 1);
    await ended;
    // A grant for a host key other than the destination's is not used.
    const wrong = { ...dst.grantCopy(2, 60_000), hostKey: Buffer.alloc(32).toString('base64') };
    await assert.rejects(
      src.copy({
        src: { instanceId: 1, path: parseCopyPath('/', 's') },
        dst: { instanceId: 2, path: parseCopyPath('/x', 'd') },
        via: { host: '127.0.0.1', port: ports.start, ...wrong },
        timeoutMs: 60_000,
      }),
      /reaching the destination/,
    );
  });
});
