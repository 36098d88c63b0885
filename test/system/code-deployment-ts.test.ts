import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, mkdtemp, readFile, rm, symlink, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until, workersOf } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

/**
 * Gantry's Node deployments SDK end to end (issue 18, decision 020), on the process runtime: a
 * two-file app (test/fixtures/code-ts: an entry and a local helper module) is run with Node as a
 * user runs it; `ensureReady` creates the deployment and uploads its code, the worker runs Gantry's
 * Node bootstrap, and remote calls return what the worker computed, share its context, and bring a
 * remote error back with its stack. Running it unchanged is `exists` with no upload; a change in the
 * helper is a `soft_update`, and the worker, restarted in place, runs the new code; a client with a
 * ttl heartbeats while it runs, and once it is gone the ttl stops the deployment, whose calls then fail at once saying so; a start brings it
 * back; a change of maxWorkers alone is an `autoscale_update` that restarts nothing. Two worker starts (the second after the start) and one restart.
 */
const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
const FIXTURE = join(ROOT, 'test', 'fixtures', 'code-ts');

for (const ts of ONE_STORE) {
  describe(`the Node deployments SDK deploys and calls code (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let dir: string;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, codeHeartbeatTtlMinimumS: 2 } });
      dir = await mkdtemp(join(tmpdir(), 'gantry-code-ts-'));
      for (const f of ['main.mjs', 'helper.js']) await writeFile(join(dir, f), await readFile(join(FIXTURE, f), 'utf8'));
      // As `npm install gantry` would: the app imports 'gantry/sdk'.
      await mkdir(join(dir, 'node_modules'));
      await symlink(ROOT, join(dir, 'node_modules', 'gantry'), 'dir');
    });
    after(async () => {
      await g.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    const logsOf = (instanceId: number): Promise<string> =>
      readFile(join(g.dataDir, 'instances', String(instanceId), 'meta', 'out', 'output.log'), 'utf8').catch(() => '');

    /** Run the app with Node, as its user would, and read its JSON line; on failure, the workers' output too. */
    const run = async (env: Record<string, string> = {}): Promise<Record<string, any>> => {
      const all = { ...process.env, GANTRY_URL: g.url, GANTRY_API_KEY: g.adminKey as string, ...env };
      try {
        const { stdout } = await new Promise<{ stdout: string }>((ok, fail) =>
          execFile(process.execPath, [join(dir, 'main.mjs')], { env: all, cwd: dir, timeout: 120_000 }, (err, stdout, stderr) =>
            err ? fail(new Error(`${err.message}\n${stdout}\n${stderr}`)) : ok({ stdout }),
          ),
        );
        return JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, any>;
      } catch (err) {
        const eps = (await g.api('GET', '/api/v0/endptjobs/')).body.results as { id: number }[];
        const ws = (await Promise.all(eps.map((e) => workersOf(g, e.id)))).flat();
        const logs = await Promise.all(ws.map(async (w) => `worker ${w.id} ${w.status}:\n${(await logsOf(w.id)).slice(-4000)}`));
        throw new Error(`${String(err)}\n${logs.join('\n')}`);
      }
    };

    let first: Record<string, any>;
    it('creates the deployment, uploads its code, and a call returns what the worker computed', async () => {
      first = await run({ CALL: '1' });
      assert.equal(first.action, 'created');
      assert.equal(first.uploaded, true);
      const workers = await workersOf(g, first.endpointId as number);
      assert.equal(workers.length, 1);
      const w = workers[0] as unknown as { id: number; bootstrap_phase?: string };
      // CONTAINER_ID is the worker's instance id: the value was computed there, not in the client.
      assert.deepEqual(first.first, { square: 49, container: String(w.id), entered: 1, calls: 1 });
      const versions = (await g.api('GET', `/api/v0/deployment/${String(first.deploymentId)}/versions/`)).body;
      assert.ok(JSON.stringify(versions).includes(first.fileHash as string), JSON.stringify(versions));
      // The Node bootstrap prints the Python bootstrap's phase lines: the listing reads them the same way.
      assert.equal(w.bootstrap_phase, 'ready');
      const logs = await logsOf(w.id);
      for (const line of [
        /Fetching download URL/,
        /Downloading deployment tarball/,
        /Starting deployment worker: ts-app/,
        /Running benchmark/,
        /Model marked as loaded/,
      ])
        assert.match(logs, line);
    });

    it('shares the context entered once by the calls on a worker', () => {
      assert.deepEqual(first.second, { square: 64, container: first.first.container, entered: 1, calls: 2 });
    });

    it('brings a remote error back with its message and the stack that names the remote file', () => {
      const e = first.error as Record<string, string>;
      assert.equal(e.name, 'RemoteError');
      assert.equal(e.remoteName, 'RangeError');
      assert.equal(e.message, 'x must not be negative, got -2');
      assert.match(String(e.stack), /on the worker, in check\(\)[\s\S]*RangeError: x must not be negative[\s\S]*gantry-code\/helper\.js/);
    });

    it('runs again unchanged: exists, nothing uploaded', async () => {
      const again = await run();
      assert.equal(again.action, 'exists');
      assert.equal(again.uploaded, false);
      assert.equal(again.fileHash, first.fileHash);
    });

    it('a change in the helper module is a soft update, and the new code answers', async () => {
      const helper = join(dir, 'helper.js');
      await writeFile(helper, (await readFile(helper, 'utf8')).replace('return x * x;', 'return x * x + 1;'));
      const changed = await run();
      assert.equal(changed.action, 'soft_update');
      assert.equal(changed.uploaded, true);
      assert.notEqual(changed.fileHash, first.fileHash);
      // update_workers restarts the worker in place (restart-workers.ts): the same instance answers with the new code.
      const after = await until(
        'the restarted worker to answer with the new code',
        async () => {
          const out = await run({ CALL: '1' });
          return out.first.square === 50 ? out : null;
        },
        120_000,
      );
      assert.equal(after.action, 'exists');
      assert.equal(after.first.container, first.first.container);
    });

    it('heartbeats while the client process runs, every min(ttl / 2, 60) s', async () => {
      const heartbeat = async (): Promise<unknown> =>
        ((await g.api('GET', `/api/v0/deployment/${String(first.deploymentId)}/`)).body.deployment as Record<string, unknown>).last_client_heartbeat;
      // The runs so far had a ttl of 600 s: one heartbeat each, as ensureReady returned (the next would come after 60 s).
      const before = await heartbeat();
      assert.equal(typeof before, 'number');
      // ttl 2 s: one as ensureReady returns, then one each second, and the client stays 2.5 s.
      const out = await run({ TTL: '2', HOLD_MS: '2500' });
      assert.equal(out.action, 'exists');
      const at = await heartbeat();
      assert.ok(typeof at === 'number' && at * 1000 >= (out.readyAt as number) + 500, `last heartbeat ${String(at)}, ready at ${String(out.readyAt)}`);
    });

    it('stops once its client is gone past the ttl, and a start brings it back: a call is answered', async () => {
      const id = String(first.deploymentId);
      const shown = async (): Promise<Record<string, any>> => (await g.api('GET', `/api/v0/deployment/${id}/`)).body.deployment as Record<string, any>;
      // The last client (ttl 2 s) has exited: no heartbeat since.
      await until('the ttl to stop the deployment', async () => (await shown()).gantry_status === 'stopped', 30_000);
      // A stopped deployment's call fails at once, saying so, rather than retrying until its deadline.
      const refused = await run({ CALL: '1', TTL: '2' }).then(
        (out) => JSON.stringify(out),
        (e: Error) => e.message,
      );
      assert.match(refused, /deployment 'ts-app' is stopped; start it and call again/);
      // The client again with a ttl of 600 s, before the start: a ttl of 2 s could run out between the start and the next client's PUT on a busy machine.
      assert.equal((await run()).action, 'exists');
      assert.equal((await shown()).gantry_status, 'stopped');
      const started = await g.api('POST', `/api/v0/deployment/${id}/start/`);
      assert.equal(started.status, 200, started.text);
      const out = await run({ CALL: '1' });
      assert.equal(out.action, 'exists');
      assert.equal(out.first.square, 50);
    });

    it('only maxWorkers changes: autoscale_update, and the worker is not restarted', async () => {
      const [w] = await workersOf(g, first.endpointId as number);
      const startedAt = (await g.api('GET', `/api/v0/instances/${String(w?.id)}/`)).body.instances.start_date as number;
      const out = await run({ MAX_WORKERS: '2' });
      assert.equal(out.action, 'autoscale_update');
      assert.equal(out.uploaded, false);
      const [still] = await workersOf(g, first.endpointId as number);
      assert.equal(still?.id, w?.id);
      assert.equal((await g.api('GET', `/api/v0/instances/${String(w?.id)}/`)).body.instances.start_date, startedAt);
    });
  });
}
