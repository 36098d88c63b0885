import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { workerToken } from '../../src/control/keys.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until, workersOf } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';
import { fixture, PYTHON, sdkMissing, WORKER_PYTHONPATH } from '../helpers/vast-sdk.js';

/**
 * Code deployments' workers run the code (decision 020), on the process runtime: Vast's deployments
 * SDK, unchanged, deploys test/fixtures/vast/code_worker.py; the worker runs Vast's bootstrap
 * (serve_deployment) and worker library with the host's Python (codeWorkerPython, and
 * codeWorkerPythonPath pointing at the SDK snapshot); the SDK's remote calls route through Gantry's
 * serverless path to it and return the value, or the error the function raised. A bootstrap whose
 * run script fails shows why on the worker and the deployment, and the listing shows the worker
 * installing while its run script runs. One worker start for the calls. The SDK's own stop and start
 * calls stop the deployment with its workers and start it again; run again with a ttl, the client
 * finds it unchanged, a call is answered, and once the client has exited the ttl stops it.
 */
const skip = sdkMissing();
if (skip !== false) console.log(`# skipping the code workers test: ${skip}`);

for (const ts of ONE_STORE) {
  describe(`code deployments' workers run Vast's bootstrap (${ts.name})`, { skip: skip !== false ? skip : ts.skip }, () => {
    let g: TestGantry;
    let dir: string;
    before(async () => {
      g = await startTestGantry(ts, {
        gpus: '2x RTX 4090:24GB',
        // Vast's worker library reports every 10 s once idle: a report stays fresh for 30 s (the default), not SERVERLESS_FAST's 5 s.
        settings: {
          ...SERVERLESS_FAST,
          workerReportStaleMs: 30_000,
          codeWorkerPython: PYTHON,
          codeWorkerPythonPath: WORKER_PYTHONPATH,
          workerFailuresBeforeDead: 2,
        },
        // The workers import the SDK from the shared snapshot: they write no bytecode there.
        workloadEnv: { PYTHONDONTWRITEBYTECODE: '1' },
      });
      dir = await mkdtemp(join(tmpdir(), 'gantry-code-workers-'));
    });
    after(async () => {
      await g.dispose();
      await rm(dir, { recursive: true, force: true });
    });

    /** Run the module as the client (a copy named like the deployment's file) and read its JSON line. */
    const run = async (env: Record<string, string>): Promise<Record<string, any>> => {
      const file = join(dir, 'workers_app.py');
      await writeFile(file, await readFile(fixture('code_worker.py'), 'utf8'));
      const all = { ...process.env, PYTHONPATH: WORKER_PYTHONPATH, PYTHONDONTWRITEBYTECODE: '1', GANTRY_URL: g.url, GANTRY_KEY: g.adminKey as string, ...env };
      const { stdout } = await new Promise<{ stdout: string; stderr: string }>((resolve, reject) =>
        execFile(PYTHON, [file], { env: all, cwd: dir, timeout: 90_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stdout}\n${stderr}`)) : resolve({ stdout, stderr }),
        ),
      );
      return JSON.parse(stdout.trim().split('\n').pop() ?? '') as Record<string, any>;
    };
    /** The output of one of the SDK's own deployment calls (vastai/api/deployments.py) on deployment `id`. */
    const sdk = async (fn: 'stop_deployment' | 'start_deployment', id: number): Promise<unknown> => {
      const code = [
        'import json, os, sys',
        'from vastai.api.client import VastClient',
        'from vastai.api import deployments',
        "c = VastClient(api_key=os.environ['GANTRY_KEY'], server_url=os.environ['GANTRY_URL'])",
        `print(json.dumps(deployments.${fn}(c, int(sys.argv[1]))))`,
      ].join('\n');
      const env = { ...process.env, PYTHONPATH: WORKER_PYTHONPATH, PYTHONDONTWRITEBYTECODE: '1', GANTRY_URL: g.url, GANTRY_KEY: g.adminKey as string };
      const { stdout } = await new Promise<{ stdout: string }>((resolve, reject) =>
        execFile(PYTHON, ['-c', code, String(id)], { env, timeout: 30_000 }, (err, stdout, stderr) =>
          err ? reject(new Error(`${err.message}\n${stderr}`)) : resolve({ stdout }),
        ),
      );
      return JSON.parse(stdout.trim()) as unknown;
    };
    /** The worker's output, as its instance's log holds it. */
    const logsOf = (instanceId: number): Promise<string> => readFile(join(g.dataDir, 'instances', String(instanceId), 'meta', 'out', 'output.log'), 'utf8');

    // First: the SDK's default search asks for machines not rented (rented=false), and the test has one; a dead
    // deployment's workers are destroyed, so the machine is free again for the next.
    it('a bootstrap whose run script fails shows why on its worker and its deployment', async () => {
      const out = await run({ SETUP_FAILS: '1' });
      assert.equal(out.action, 'created');
      // Each worker waits in its run script until the test has seen it installing, then the script fails.
      const seen = new Set<string>();
      const dead = await until(
        'the broken deployment to fail',
        async () => {
          for (const w of (await workersOf(g, out.endpoint_id as number)) as unknown as { id: number; bootstrap_phase?: string }[]) {
            seen.add(String(w.bootstrap_phase));
            if (w.bootstrap_phase === 'installing') await writeFile(join(g.dataDir, 'instances', String(w.id), 'disk', 'go'), '');
          }
          const d = (await g.api('GET', `/api/v0/deployment/${String(out.id)}/`)).body.deployment as Record<string, any>;
          return d.gantry_status === 'failed' ? d : null;
        },
        60_000,
      );
      assert.ok(seen.has('installing'), [...seen].join(', '));
      assert.match(String(dead.status_msg), /exited with code 1[\s\S]*setup: fetching weights failed[\s\S]*exit status 3/);
    });

    /** A client run that failed, with what the workers said beside its own output: a hang is a worker that never became ready. */
    const withWorkers = async (err: unknown): Promise<never> => {
      const eps = (await g.api('GET', '/api/v0/endptjobs/')).body.results as { id: number; status_msg: string | null }[];
      const ws = (await Promise.all(eps.map((e) => workersOf(g, e.id)))).flat();
      const logs = await Promise.all(ws.map(async (w) => `worker ${w.id} ${w.status}:\n${(await logsOf(w.id).catch(() => '')).slice(-4000)}`));
      throw new Error(`${String(err)}\nendpoints: ${JSON.stringify(eps.map((e) => [e.id, e.status_msg]))}\n${logs.join('\n')}`);
    };

    it('deploys, and a remote call returns the value, or the error the function raised', async () => {
      const out = await run({ CALL: '1' }).catch(withWorkers);
      assert.equal(out.action, 'created');
      assert.equal(out.square, 49);
      assert.deepEqual(out.checked, { type: 'NegativeError', message: 'x must not be negative, got -2' });
      assert.equal(out.checked_ok, 5);
      const [w] = await workersOf(g, out.endpoint_id as number);
      assert.equal(w?.status, 'Ready');
      assert.equal((w as unknown as { bootstrap_phase: string }).bootstrap_phase, 'ready');
      const logs = await logsOf(w?.id);
      for (const line of [/Fetching download URL/, /Downloading deployment tarball/, /Starting deployment worker: sdk-workers/]) assert.match(logs, line);
      // The library lists the requests it finished at REPORT_ADDR/delete_requests/: acknowledged (a worker's token only).
      await until('the worker to list its finished requests', async () => /delete_requests response: 200/.test(await logsOf(w?.id)));
      const forged = await g.api('POST', '/delete_requests/', { worker_id: w?.id, mtoken: 'gwt_forged', requests: [] }, { key: null });
      assert.equal(forged.status, 401, forged.text);
      // With its real token: a list with an entry of no request_idx (a session's) is taken; `requests` that is no list is a 400.
      const mtoken = workerToken(g.control.ctx.secret, Number(w?.id));
      const odd = await g.api('POST', '/delete_requests/', { worker_id: w?.id, mtoken, requests: [{ request_idx: null }, { request_idx: 5 }] }, { key: null });
      assert.equal(odd.status, 200, odd.text);
      const malformed = await g.api('POST', '/delete_requests/', { worker_id: w?.id, mtoken, requests: 'all' }, { key: null });
      assert.equal(malformed.status, 400, malformed.text);
      assert.match(String(malformed.body.msg), /requests/);
      assert.equal(
        (await g.api('POST', '/delete_requests/', { worker_id: w?.id, mtoken: 'gwt_forged', requests: 'all' }, { key: null })).status,
        401,
        'the token first',
      );
    });

    it("stops and starts through the SDK's own calls, answers again, and stops once its client is gone past the ttl", async () => {
      const first = await run({});
      const id = first.id as number;
      const shown = async (): Promise<Record<string, any>> => (await g.api('GET', `/api/v0/deployment/${id}/`)).body.deployment as Record<string, any>;
      const running = async (): Promise<number> =>
        (await workersOf(g, first.endpoint_id as number)).filter(
          (w) => !['stopped', 'destroyed'].includes(String((w as unknown as { gantry_status: string }).gantry_status)),
        ).length;
      assert.deepEqual(await sdk('stop_deployment', id), { success: true, endpoint_state: 'stopped', gantry_status: 'stopping' });
      await until('the deployment to stop with its workers', async () => (await shown()).gantry_status === 'stopped' && (await running()) === 0);
      assert.deepEqual(await sdk('start_deployment', id), { success: true, endpoint_state: 'active', gantry_status: 'pending' });
      // The client again, now with a ttl: it finds the deployment as it was (ttl is recorded), and a call is answered.
      const again = await run({ CALL: '1', TTL: '10' }).catch(withWorkers);
      assert.equal(again.action, 'exists');
      assert.equal(again.id, id);
      assert.equal(again.square, 49);
      assert.equal((await shown()).ttl, 10);
      // The client has exited: no heartbeat for 10 s and the deployment is stopped, not deleted.
      const stopped = await until('the ttl to stop the deployment', async () => ((await shown()).gantry_status === 'stopped' ? shown() : null), 60_000);
      assert.equal(stopped.endpoint_state, 'stopped');
      assert.ok(Date.now() / 1000 - (stopped.last_client_heartbeat as number) >= 10, `last heartbeat ${stopped.last_client_heartbeat}`);
    });
  });
}
