import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, SERVERLESS_FAST, until, workersOf } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

/** The example chat server, run as it is: a plain HTTP server that knows nothing of Gantry. */
const CHAT_SERVER = fileURLToPath(new URL('../../../examples/aicore-chat/server.mjs', import.meta.url));

/** A deployment of probe-ready workers through the Vast dialect (Gantry's `readiness` extension). */
async function deploy(g: TestGantry, name: string, o: Record<string, unknown>): Promise<{ id: number; endpointId: number }> {
  const r = await g.api('POST', '/api/v0/deployments/', {
    name,
    image: 'local/worker',
    readiness: 'http',
    search_params: 'num_gpus=1',
    min_load: 1,
    max_workers: 1,
    cold_workers: 0,
    min_workers: 0,
    target_util: 1,
    ...o,
  });
  assert.equal(r.status, 200, r.text);
  return { id: r.body.deployment.id, endpointId: r.body.deployment.endpoint_id };
}

for (const ts of ONE_STORE) {
  describe(`probe-ready workers and dead endpoints (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, {
        gpus: '4x RTX 4090:24GB',
        settings: { ...SERVERLESS_FAST, workerReportStaleMs: 3000, workerProbeTimeoutMs: 2000, workerFailuresBeforeDead: 2 },
      });
    });
    after(async () => {
      await g.dispose();
    });

    it('a plain HTTP worker is ready when its port answers, serves through the gateway, and falls out of routing when it stops answering', async () => {
      const d = await deploy(g, 'chat', { entrypoint: process.execPath, args: [CHAT_SERVER], env: { MODEL_NAME: 'probe-model' } });
      const ready = await until('a ready worker', async () => (await workersOf(g, d.endpointId)).find((w) => w.status === 'Ready'));
      // The server never calls /worker_status/ (it has no MASTER_TOKEN use): the engine's probe made it ready.
      const report = (await g.store.workerReports([ready.id])).get(ready.id);
      assert.equal(report?.loaded, true);
      assert.equal(report?.maxPerf, null, 'a probe knows no benchmark');

      const body = JSON.stringify({ model: 'x', messages: [{ role: 'user', content: 'hello gateway' }] });
      const r = await call(g, 'chat', '/chat/completions?api-version=2024-10-21', { body });
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.object, 'chat.completion');
      assert.equal(r.body.model, 'probe-model');
      assert.equal(r.body.choices[0].message.content, 'yawetag olleh');
      assert.equal(r.body.choices[0].finish_reason, 'stop');

      // Freeze the server from outside: its instance still runs, but its port no longer answers.
      const pgid = Number((await readFile(join(g.dataDir, 'instances', String(ready.id), 'meta', 'pgid'), 'utf8')).trim());
      process.kill(-pgid, 'SIGSTOP');
      try {
        await until('the frozen worker out of routing', async () => {
          const w = (await workersOf(g, d.endpointId)).find((x) => x.id === ready.id);
          return w !== undefined && w.status !== 'Ready';
        });
        const gone = (await g.store.workerReports([ready.id])).get(ready.id);
        assert.equal(gone?.loaded, false);
        // Silent past workerReportStaleMs, it is an error; the autoscaler replaces it and a new worker serves.
        const next = await until(
          'a replacement worker',
          async () => (await workersOf(g, d.endpointId)).find((w) => w.status === 'Ready' && w.id !== ready.id),
          30_000,
        );
        const again = await call(g, 'chat', '/v1/chat/completions', { body });
        assert.equal(again.status, 200, JSON.stringify(again.body));
        assert.equal(again.body.choices[0].message.content, 'yawetag olleh');
        assert.ok(next.id !== ready.id);
      } finally {
        try {
          process.kill(-pgid, 'SIGKILL');
        } catch {
          /* already gone */
        }
      }
      const ep = await g.store.getEndpoint(d.endpointId);
      assert.equal(ep?.memory.failures?.count ?? 0, 0, 'a ready worker clears the failure count');
    });

    it('a worker that exits at once, again and again, leaves the endpoint failed with its exit code and output; no more workers are recruited', async () => {
      const d = await deploy(g, 'broken', { entrypoint: 'sh', args: ['-c', 'echo loading the model; echo boom >&2; exit 3'] });
      const ep = await until(
        'the endpoint failed',
        async () => {
          const e = await g.store.getEndpoint(d.endpointId);
          return e?.status === 'failed' ? e : null;
        },
        30_000,
      );
      assert.equal(ep.target, 'running', 'dead, not stopped: the user decides');
      assert.match(ep.statusMsg ?? '', /2 failure\(s\) without a ready worker \(limit 2\)/);
      assert.match(ep.statusMsg ?? '', /exit codes: 3, 3/);
      assert.match(ep.statusMsg ?? '', /main process exited with code 3/);
      assert.match(ep.statusMsg ?? '', /last output: .*boom/);
      const shown = await g.api('GET', `/api/v0/deployment/${d.id}/`);
      assert.equal(shown.body.deployment.gantry_status, 'failed');

      // The pass holds: failed workers are destroyed and none is recruited, pass after pass.
      await until('no live worker', async () => (await g.store.listWorkers(d.endpointId)).every((w) => w.target === 'deleted'));
      const count = (await g.store.listWorkers(d.endpointId)).length;
      await new Promise((r) => setTimeout(r, 10 * SERVERLESS_FAST.autoscaleIntervalMs));
      const later = await g.store.getEndpoint(d.endpointId);
      assert.equal(later?.status, 'failed');
      assert.equal((await g.store.listWorkers(d.endpointId)).filter((w) => w.target !== 'deleted').length, 0);
      assert.ok((await g.store.listWorkers(d.endpointId)).length <= count, 'no worker recruited while dead');
      // Requests are refused, not queued for a worker that will never come.
      const refused = await call(g, 'broken', '/x', { body: '{}' });
      assert.equal(refused.status, 503);
      // Saying that it failed, not "stopped or stopping" (and not the workers' output, which callers may not read).
      assert.match(String(refused.body.msg), /^The endpoint failed \(its workers kept failing\) and takes no requests/);
      assert.doesNotMatch(String(refused.body.msg), /boom/);
    });
  });
}
