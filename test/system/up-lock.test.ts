import assert from 'node:assert/strict';
import { spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, gantry, startUp } from '../helpers/cli.js';

/**
 * One server per data dir, with two real processes: a stale lock is taken over, a second `gantry up`
 * is refused and names the first, a taken port is named, and `gantry down` stops the server and
 * leaves no lock and no url file behind. One server for the whole file.
 */
describe('gantry up: one server per data dir, gantry down', () => {
  let dataDir: string;
  let otherDir: string;
  let port: number;
  let server: ChildProcess | null = null;
  let url = '';
  const env: NodeJS.ProcessEnv = {
    PATH: process.env.PATH,
    HOME: process.env.HOME,
    GANTRY_PROCESS_SANDBOX: 'off',
    GANTRY_UNSAFE_SHARED_PROCESS_RUNTIME: 'true',
  };
  const exists = (f: string): Promise<boolean> =>
    stat(f).then(
      () => true,
      () => false,
    );

  before(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'gantry-lock-'));
    otherDir = await mkdtemp(join(tmpdir(), 'gantry-lock-other-'));
    port = await freePort();
    // What kill -9 leaves: a lock naming a process that is gone, and a url file pointing nowhere.
    const deadPid = spawnSync('true').pid;
    await writeFile(join(dataDir, 'server.lock'), JSON.stringify({ pid: deadPid, url: 'http://127.0.0.1:1', token: 'old' }));
    await writeFile(join(dataDir, 'url'), 'http://127.0.0.1:1\n');
  });
  after(async () => {
    server?.kill('SIGKILL');
    await rm(dataDir, { recursive: true, force: true });
    await rm(otherDir, { recursive: true, force: true });
  });

  it('takes over a stale lock (its pid is dead) and names itself in it', async () => {
    const up = await startUp(['--data-dir', dataDir, '--port', String(port), '--runtime', 'process', '--log-level', 'warn'], env);
    server = up.child;
    url = `http://127.0.0.1:${port}`;
    assert.match(up.banner, /Admin key: gnt_\S+ +\(created now/);
    const lock = JSON.parse(await readFile(join(dataDir, 'server.lock'), 'utf8')) as { pid: number; url: string };
    assert.deepEqual({ pid: lock.pid, url: lock.url }, { pid: server.pid, url });
    assert.equal((await readFile(join(dataDir, 'url'), 'utf8')).trim(), url);
  });

  it('refuses a second gantry up on the same data dir, on any port, and names the running one', async () => {
    const r = await gantry(['up', '--data-dir', dataDir, '--port', '0', '--runtime', 'process'], env);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`already running on data dir ${dataDir} (pid ${String(server?.pid)}, ${url})`), r.stderr);
    assert.match(r.stderr, /gantry down --data-dir/);
  });

  it("refuses a server on another data dir given this data dir's database (--database), and leaves that data dir unlocked", async () => {
    // Before: it started beside the running one, two control planes on one SQLite file.
    const r = await gantry(['server', '--data-dir', otherDir, '--database', join(dataDir, 'gantry.db'), '--port', '0'], env);
    assert.equal(r.code, 1, r.stderr);
    assert.ok(r.stderr.includes(`already running on data dir ${dataDir} (pid ${String(server?.pid)}, ${url})`), r.stderr);
    assert.equal(await exists(join(otherDir, 'server.lock')), false, "the refused start let its own data dir's lock go");
  });

  it('names a port in use before it initialises another data dir', async () => {
    const r = await gantry(['up', '--data-dir', otherDir, '--port', String(port), '--runtime', 'process'], env);
    assert.equal(r.code, 1);
    assert.ok(r.stderr.includes(`port ${port} is in use — is Gantry already running at ${url}?`), r.stderr);
    assert.equal(await exists(join(otherDir, 'admin.key')), false, 'no admin key created that nobody was shown');
    assert.equal(await exists(join(otherDir, 'server.lock')), false);
    // A data dir the refused start would have made is not left behind, empty, nor the folders made above it.
    const fresh = join(otherDir, 'fresh');
    assert.equal((await gantry(['up', '--data-dir', join(fresh, 'a', 'b'), '--port', String(port), '--runtime', 'process'], env)).code, 1);
    assert.equal(await exists(fresh), false);
    assert.equal(await exists(otherDir), true, 'what was there before stays');
  });

  it('gantry down stops the server of the data dir; lock and url file are gone', async () => {
    const s = server as ChildProcess;
    const exited = new Promise((r) => s.once('exit', r));
    const r = await gantry(['down', '--data-dir', dataDir], env);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, new RegExp(`Stopped Gantry \\(pid ${String(s.pid)}, ${url}\\)`));
    assert.equal(await exited, 0);
    server = null;
    assert.equal(await exists(join(dataDir, 'url')), false);
    assert.equal(await exists(join(dataDir, 'server.lock')), false);
    const again = await gantry(['down', '--data-dir', dataDir], env);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /No Gantry server runs on data dir/);
  });
});
