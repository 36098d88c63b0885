import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { freePort, gantry, removeUpDir, startUp, upTestEnv } from '../helpers/cli.js';
import { ONE_STORE_PG, onlyOn, TEST_STORES } from '../helpers/stores.js';

/**
 * `gantry up` as a child process, driven by the real CLI: the README's walk-through, then kill -9
 * while instances run, restart, and check that nothing was lost, duplicated or orphaned. It starts and
 * stops on each store; the walk-through and the restart run on PostgreSQL, the store replicas share (what
 * they ask of the store, its contract and reconciler suites check on both; on SQLite, the default, the
 * README's walk-throughs run in readme-walkthrough.test.ts and a kill -9 and restart in serverless-restart.test.ts).
 */
for (const ts of TEST_STORES) {
  describe(`gantry up (${ts.name}): CLI walk-through, kill -9 and restart`, { skip: ts.skip }, () => {
    const once = onlyOn(ts, ONE_STORE_PG);
    let dataDir: string;
    let port: number;
    let server: ChildProcess | null = null;
    let env: NodeJS.ProcessEnv;
    let database: string[] = [];
    // On PostgreSQL the first admin key is preset, as automation does it.
    const presetKey = ts.name === 'postgres' ? 'gnt_preset-key-for-automation' : null;
    const args = (): string[] => ['--data-dir', dataDir, '--port', String(port), '--gpus', '2x RTX 4090:24GB', '--log-level', 'warn', ...database];

    before(async () => {
      dataDir = await mkdtemp(join(tmpdir(), 'gantry-sys-'));
      port = await freePort();
      if (ts.name === 'postgres') database = ['--database', await ts.fresh(dataDir)];
      env = upTestEnv(dataDir, {
        ...(presetKey !== null ? { GANTRY_ADMIN_KEY: presetKey } : {}),
        GANTRY_SWEEP_INTERVAL_MS: '300ms',
        GANTRY_LEASE_MS: '2s',
      });
    });
    after(async () => {
      server?.kill('SIGKILL');
      await removeUpDir(dataDir);
    });

    const cli = async (...a: string[]): Promise<string> => {
      const r = await gantry(a, env);
      assert.equal(r.code, 0, `gantry ${a.join(' ')} failed: ${r.stderr}`);
      return r.stdout;
    };
    const showRaw = async (id: number): Promise<Record<string, unknown>> =>
      JSON.parse(await cli('show', 'instance', String(id), '--raw')) as Record<string, unknown>;
    /**
     * An instance's status for a poll, over HTTP (false while the server is down): one CLI process per look
     * cost some 0.3 s of CPU ten times a second, the most this file spent; the CLI's own reads are checked above.
     */
    const statusOf = async (id: number): Promise<string | null> => {
      const key = (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim();
      const r = await fetch(`http://127.0.0.1:${port}/api/v0/instances/${id}/`, { headers: { authorization: `Bearer ${key}` } }).catch(() => null);
      if (r?.status !== 200) return null;
      return ((await r.json()) as { instances: { actual_status: string | null } }).instances.actual_status;
    };
    const pgidOf = async (id: number): Promise<number> => Number((await readFile(join(dataDir, 'instances', String(id), 'meta', 'pgid'), 'utf8')).trim());
    const alive = (pgid: number): boolean => {
      try {
        process.kill(-pgid, 0);
        return true;
      } catch {
        return false;
      }
    };
    const waitFor = async (what: string, f: () => Promise<boolean>, ms = 20_000, everyMs = 100): Promise<void> => {
      const end = Date.now() + ms;
      while (!(await f())) {
        if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
        await new Promise((r) => setTimeout(r, everyMs));
      }
    };

    let web: number;
    let short: number;

    it('starts, prints the URL and the admin key, and writes the key file with mode 0600', async () => {
      const up = await startUp(args(), env);
      server = up.child;
      assert.match(up.banner, new RegExp(`URL: +http://127\\.0\\.0\\.1:${port}`));
      const key = /Admin key: (\S+)/.exec(up.banner)?.[1];
      assert.ok(key?.startsWith('gnt_'));
      if (presetKey !== null) assert.equal(key, presetKey);
      assert.equal((await readFile(join(dataDir, 'admin.key'), 'utf8')).trim(), key);
      assert.equal((await stat(join(dataDir, 'admin.key'))).mode & 0o777, 0o600);
      assert.match(up.banner, /2x RTX 4090 \(declared\), verified/);
    });

    once('walks the lifecycle with the CLI (key from the key file)', async () => {
      const offers = JSON.parse(await cli('search', 'offers', 'num_gpus>=1 rentable=true', '-o', 'dph_total', '--raw')) as { id: number; num_gpus: number }[];
      assert.deepEqual(
        offers.map((o) => o.num_gpus),
        [1, 2],
      );
      // verified is an admin's mark: unverified machines drop out of the default search.
      await cli('verify', 'machine', '1', '--unverify');
      assert.deepEqual(JSON.parse(await cli('search', 'offers', '--raw')), []);
      assert.equal((JSON.parse(await cli('search', 'offers', '-n', '--raw')) as unknown[]).length, 2);
      await cli('verify', 'machine', '1');
      assert.match(await cli('search', 'offers', 'gpu_name=RTX_4090'), /RTX 4090/);
      const created = await cli(
        'create',
        'instance',
        '1001',
        '--image',
        'local/shell',
        '--disk',
        '10',
        '--onstart-cmd',
        'echo hello-from-onstart; python3 -m http.server $PORT',
        '--wait',
      );
      web = Number(/Created instance (\d+)/.exec(created)?.[1]);
      assert.ok(web > 0);
      assert.equal((await showRaw(web)).actual_status, 'running');
      assert.match(await cli('show', 'instances'), new RegExp(`${web} +1 +running`));
      await waitFor('logs', async () => (await cli('logs', String(web), '--tail', '50')).includes('hello-from-onstart'), 20_000, 500);
      // GANTRY_API_KEY works as well as the key file.
      const viaEnv = await gantry(['show', 'instances', '--raw'], {
        ...env,
        GANTRY_DATA_DIR: '/nonexistent',
        GANTRY_URL: `http://127.0.0.1:${port}`,
        GANTRY_API_KEY: (await readFile(join(dataDir, 'admin.key'), 'utf8')).trim(),
      });
      assert.equal(viaEnv.code, 0, viaEnv.stderr);
      await cli('label', 'instance', String(web), 'web');
      await cli('stop', 'instance', String(web), '--wait');
      assert.equal((await showRaw(web)).actual_status, 'stopped');
      await cli('start', 'instance', String(web), '--wait');
      assert.equal((await showRaw(web)).label, 'web');
      const bad = await gantry(['show', 'instance', '999'], env);
      assert.equal(bad.code, 1);
      assert.match(bad.stderr, /No instance with id 999/);
    });

    once('survives kill -9: running workloads are re-adopted, exits during the outage are reported, orphans removed', async () => {
      // The short instance exits with 5 when the test creates exit-now on its disk (its working directory),
      // so it is seen running first and ends while the control plane is down, however slow the machine.
      const created = await cli('create', 'instance', '1001', '--args', 'bash', '-c', 'until [ -e exit-now ]; do sleep 0.1; done; exit 5');
      short = Number(/Created instance (\d+)/.exec(created)?.[1]);
      await waitFor('short instance running', async () => (await statusOf(short)) === 'running');
      const shortExitCode = join(dataDir, 'instances', String(short), 'meta', 'out', 'exit_code');
      const pgid = await pgidOf(web);
      const runtimeId = (await readFile(join(dataDir, 'instances', 'runtime-id'), 'utf8')).trim();

      server?.kill('SIGKILL');
      await new Promise((r) => server?.once('exit', r));
      server = null;
      assert.ok(alive(pgid), 'the workload outlives the control plane');
      // An orphan: a labelled workload whose instance the store never heard of.
      await mkdir(join(dataDir, 'instances', '424242', 'disk'), { recursive: true });
      const orphan = spawn('sleep', ['300'], { detached: true, stdio: 'ignore', env: { ...env, GANTRY_RUNTIME_ID: runtimeId, GANTRY_INSTANCE_ID: '424242' } });
      orphan.unref();
      // The short instance exits while nobody watches; its wrapper records the code once the command ends.
      await writeFile(join(dataDir, 'instances', String(short), 'disk', 'exit-now'), '');
      await waitFor('the short instance to exit during the outage', async () => (await readFile(shortExitCode, 'utf8').catch(() => '')).trim() === '5');

      server = (await startUp(args(), env)).child;
      await waitFor('re-adoption', async () => (await statusOf(web)) === 'running' && (await statusOf(short)) === 'exited');
      assert.equal(await pgidOf(web), pgid, 'same process group: adopted, not started again');
      assert.ok(alive(pgid));
      const s = await showRaw(short);
      assert.equal(s.exit_code, 5);
      const list = JSON.parse(await cli('show', 'instances', '--raw')) as { id: number }[];
      assert.deepEqual(list.map((r) => r.id).sort(), [web, short].sort(), 'no record lost, none duplicated');
      await waitFor(
        'orphan removed',
        async () =>
          !alive(orphan.pid as number) &&
          (await stat(join(dataDir, 'instances', '424242')).then(
            () => false,
            () => true,
          )),
      );
    });

    once('still stops, starts and destroys after the restart', async () => {
      // A start of an exited instance waits for the new run, not for the exit it starts from.
      await rm(join(dataDir, 'instances', String(short), 'disk', 'exit-now'));
      await cli('start', 'instance', String(short), '--wait');
      assert.equal((await showRaw(short)).actual_status, 'running');
      await cli('stop', 'instance', String(web), '--wait');
      await cli('start', 'instance', String(web), '--wait');
      await cli('destroy', 'instance', String(web), '--wait');
      await cli('destroy', 'instance', String(short), '--wait');
      assert.deepEqual(JSON.parse(await cli('show', 'instances', '--raw')), []);
      await assert.rejects(stat(join(dataDir, 'instances', String(web))));
    });

    it('shuts down cleanly on SIGTERM', async () => {
      const s = server as ChildProcess;
      s.kill('SIGTERM');
      const code = await new Promise((r) => s.once('exit', r));
      server = null;
      assert.equal(code, 0);
    });
  });
}
