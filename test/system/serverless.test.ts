import assert from 'node:assert/strict';
import { createPublicKey, verify } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { gantry } from '../helpers/cli.js';
import { reportRef, workerToken } from '../../src/control/keys.js';
import { call, createDeployment, EXAMPLE_ONSTART, SERVERLESS_FAST, until, WORKER_ONSTART, workersOf } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

// The gateway's request path is the subject, not the store (the serverless store contract suite runs on both): one store.
for (const ts of ONE_STORE) {
  describe(`serverless request path (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: SERVERLESS_FAST });
    });
    after(async () => {
      await g.dispose();
    });

    it('serves through the proxy and through /route/ with a signature workers verify', async () => {
      const d = await createDeployment(g, 'echo', { min_load: 1, max_workers: 1 });
      // cold_mult (2.5) may add a second, reserve worker; take the one that is ready.
      const ready = await until('a ready worker', async () => (await workersOf(g, d.endpointId)).find((w) => w.status === 'Ready'));
      assert.equal(ready?.status, 'Ready');

      const viaProxy = await call(g, 'echo', '/hello?x=1', { body: 'ping' });
      assert.equal(viaProxy.status, 200);
      assert.equal(viaProxy.body.worker, ready?.id);
      assert.equal(viaProxy.body.path, '/hello?x=1');
      assert.equal(viaProxy.body.echo, 'ping');
      // The endpoint's own key works too; another key does not.
      assert.equal((await call(g, 'echo', '/k', { key: d.key })).status, 200);
      assert.equal((await call(g, 'echo', '/k', { key: 'gek_nope' })).status, 401);
      assert.equal((await call(g, 'nope', '/k')).status, 404);

      const routed = await g.api('POST', '/route/', { endpoint: 'echo', api_key: d.key, cost: 3, request_idx: 0 }, { key: null });
      assert.equal(routed.status, 200, routed.text);
      const r = routed.body;
      assert.equal(r.url, ready?.url);
      assert.equal(r.cost, 3);
      assert.equal(r.endpoint, 'echo');
      assert.ok(typeof r.reqnum === 'number' && typeof r.__request_id === 'string' && r.request_idx !== undefined);
      // Signed with the endpoint's own key, which its workers read at their REPORT_ADDR; not with the server's.
      const pem = await (await fetch(`${g.url}/report/${reportRef(g.control.ctx.secret, d.endpointId)}/pubkey/`)).text();
      const message = `{\n    "url": ${JSON.stringify(r.url)}\n}`;
      assert.ok(
        verify('sha256', Buffer.from(message), createPublicKey(pem), Buffer.from(r.signature, 'base64')),
        'signature verifies as Vast workers check it',
      );
      const serverPem = await (await fetch(`${g.url}/pubkey/`)).text();
      assert.equal(verify('sha256', Buffer.from(message), createPublicKey(serverPem), Buffer.from(r.signature, 'base64')), false);

      // Vast-style call straight to the worker with auth_data; unsigned and replayed calls are refused.
      const direct = (auth: unknown): Promise<Response> =>
        fetch(`${r.url}/work`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ auth_data: auth, payload: { n: 7 } }),
        });
      const ok = await direct(r);
      assert.equal(ok.status, 200);
      assert.equal(((await ok.json()) as { echo: string }).echo, '{"n":7}');
      assert.equal((await direct(r)).status, 409, 'same reqnum twice');
      assert.equal((await direct({ ...r, signature: Buffer.from('forged').toString('base64'), reqnum: r.reqnum + 1 })).status, 401);
      assert.equal((await fetch(`${r.url}/work`)).status, 401, 'a call that did not come through the engine');

      const metrics = await (await fetch(`${g.url}/metrics`)).text();
      assert.match(metrics, /gantry_serverless_requests_total\{outcome="ok"\} [1-9]/);
      assert.match(metrics, /gantry_serverless_routes_total\{worker="yes"\} [1-9]/);
      const rows = await g.api('GET', '/api/v0/endptjobs/');
      const row = rows.body.results.find((e: { endpoint_name: string }) => e.endpoint_name === 'echo');
      for (const f of ['id', 'endpoint_name', 'endpoint_state', 'api_key', 'user_id', 'created_at', 'min_load', 'max_workers', 'inactivity_timeout'])
        assert.ok(f in row, f);
      assert.equal(row.endpoint_state, 'active');
    });

    it("a hand-out opens only its own endpoint's workers: another endpoint's (another tenant's) refuse it, and no worker made now earns the server's key", async () => {
      const mine = await createDeployment(g, 'mine', { min_load: 1, max_workers: 1 });
      const theirs = await createDeployment(g, 'theirs', { min_load: 1, max_workers: 1 });
      const readyOf = (endpointId: number) => until('a ready worker', async () => (await workersOf(g, endpointId)).find((w) => w.status === 'Ready'), 60_000);
      const [w1, w2] = [await readyOf(mine.endpointId), await readyOf(theirs.endpointId)];
      const routed = await g.api('POST', '/route/', { endpoint: 'mine', api_key: mine.key, cost: 1, request_idx: 0 }, { key: null });
      assert.equal(routed.status, 200, routed.text);
      assert.equal(routed.body.url, w1?.url);
      const to = (url: string, auth: unknown): Promise<Response> =>
        fetch(`${url}/work`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ auth_data: auth, payload: { n: 1 } }) });
      // The grant names mine's worker URL; theirs checks it with its own endpoint's key, whatever URL it names.
      assert.equal((await to(w2?.url as string, routed.body)).status, 401, "another endpoint's worker refuses mine's hand-out");
      assert.equal((await to(w1?.url as string, { ...routed.body, reqnum: routed.body.reqnum + 1 })).status, 200);
      // A report address is the server's only: a made-up one answers 404, and nobody makes it make keys.
      assert.equal((await fetch(`${g.url}/report/${mine.endpointId}.${'A'.repeat(22)}/pubkey/`)).status, 404);
      // A worker made now that reports to /worker_status/ itself, as one started by an earlier version does, earns no
      // grant of the server's key (which opens those older workers): its hand-outs are still signed with its endpoint's.
      const legacy = await createDeployment(g, 'legacy', { min_load: 1, max_workers: 1, onstart: `REPORT_ADDR="$GANTRY_URL" ${WORKER_ONSTART}` });
      await readyOf(legacy.endpointId);
      const old = await g.api('POST', '/route/', { endpoint: 'legacy', api_key: legacy.key, cost: 1, request_idx: 0 }, { key: null });
      assert.equal(old.status, 200, old.text);
      const signedBy = async (path: string): Promise<boolean> => {
        const pem = await (await fetch(`${g.url}${path}`)).text();
        const message = `{\n    "url": ${JSON.stringify(old.body.url)}\n}`;
        return verify('sha256', Buffer.from(message), createPublicKey(pem), Buffer.from(old.body.signature, 'base64'));
      };
      assert.equal(await signedBy(`/report/${reportRef(g.control.ctx.secret, legacy.endpointId)}/pubkey/`), true);
      assert.equal(await signedBy('/pubkey/'), false);
      // A worker's report through another endpoint's address is refused.
      const wrong = await fetch(`${g.url}/report/${reportRef(g.control.ctx.secret, theirs.endpointId)}/worker_status/`, {
        method: 'POST',
        headers: { 'content-type': 'application/json' },
        body: JSON.stringify({ id: w1?.id, mtoken: workerToken(g.control.ctx.secret, w1?.id), loaded: true }),
      });
      assert.equal(wrong.status, 403, await wrong.text());
      for (const d of [mine, theirs, legacy]) assert.equal((await g.api('DELETE', `/api/v0/deployment/${d.id}/`)).status, 200);
      // A deleted endpoint's address makes no key any more (a key is made when a worker first asks).
      const gone = `${g.url}/report/${reportRef(g.control.ctx.secret, mine.endpointId)}/pubkey/`;
      await until('the deleted endpoint makes no key', async () => (await fetch(gone)).status === 404);
    });

    it('the CLI creates, shows, drains, starts and deletes a deployment', async () => {
      const env = { ...process.env, GANTRY_URL: g.url, GANTRY_API_KEY: g.adminKey ?? '' };
      const run = async (...args: string[]): Promise<string> => {
        const r = await gantry(args, env);
        assert.equal(r.code, 0, `gantry ${args.join(' ')}: ${r.stderr}`);
        return r.stdout;
      };
      const created = JSON.parse(
        await run(
          'create',
          'deployment',
          '--name',
          'cli-dep',
          '--image',
          'local/worker',
          '--onstart-cmd',
          EXAMPLE_ONSTART,
          '--env',
          '-e WORKER_PERF=2',
          '--search',
          'num_gpus=1',
          '--min_load',
          '1',
          '--cold_workers',
          '0',
          '--min_workers',
          '0',
          '--max_workers',
          '1',
          '--raw',
        ),
      ) as { id: number; endpoint_id: number };
      assert.ok(created.id > 0);
      await until('cli worker ready', async () => (await workersOf(g, created.endpoint_id)).some((w) => w.status === 'Ready'));
      assert.match(await run('show', 'deployments'), /cli-dep\s+active\s+running/);
      assert.match(await run('get', 'endpoint', 'workers', String(created.endpoint_id)), /Ready/);
      assert.equal((await call(g, 'cli-dep', '/x')).status, 200);
      assert.deepEqual(JSON.parse(await run('stop', 'deployment', String(created.id), '--drain', '--timeout', '20', '--raw')), {
        success: true,
        endpoint_state: 'stopped',
        gantry_status: 'stopping',
      });
      await until('stopped', async () => (await g.api('GET', `/api/v0/deployment/${created.id}/`)).body.deployment.gantry_status === 'stopped');
      assert.deepEqual(JSON.parse(await run('start', 'deployment', String(created.id), '--raw')), {
        success: true,
        endpoint_state: 'active',
        gantry_status: 'pending',
      });
      assert.equal((await call(g, 'cli-dep', '/again')).status, 200);
      JSON.parse(await run('delete', 'deployment', String(created.id), '--raw'));
      await until('deleted', async () => (await g.api('GET', `/api/v0/deployment/${created.id}/`)).status === 404);
      assert.equal((await workersOf(g, created.endpoint_id).catch(() => [])).length, 0);
    });

    it('endpoints and workergroups through the Vast API: /route/ demand scales from zero, an endpoint can be suspended, delete destroys workers', async () => {
      const ep = await g.api('POST', '/api/v0/endptjobs/', {
        endpoint_name: 'raw',
        min_load: 0,
        cold_workers: 0,
        min_workers: 0,
        max_workers: 1,
        target_util: 1,
      });
      assert.equal(ep.status, 200, ep.text);
      const endpointId = ep.body.result as number;
      const wg = await g.api('POST', '/api/v0/autojobs/', {
        endpoint_name: 'raw',
        image: 'local/worker',
        onstart: WORKER_ONSTART,
        env: '-e WORKER_PERF=2 -p 8000:8000',
        search_params: 'num_gpus=1',
        test_workers: 2,
      });
      assert.equal(wg.status, 200, wg.text);
      const listed = (await g.api('GET', '/api/v0/workergroups/')).body.results.find((w: { id: number }) => w.id === wg.body.id);
      assert.equal(listed.endpoint_name, 'raw');
      assert.equal(listed.search_params, 'num_gpus=1');
      assert.deepEqual(listed.ports, ['8000/tcp']);
      assert.equal((await workersOf(g, endpointId)).length, 0, 'min_load 0 and no demand: no worker');

      // A Vast client polls /route/ with the same request_idx; its demand makes the engine recruit.
      const first = await g.api('POST', '/route/', { endpoint: 'raw', cost: 1, request_idx: 0 });
      assert.equal(first.body.url, undefined);
      const idx = first.body.request_idx as number;
      const routed = await until('a routed worker', async () => {
        const r = await g.api('POST', '/route/', { endpoint: 'raw', cost: 1, request_idx: idx });
        return typeof r.body.url === 'string' ? r.body : null;
      });
      assert.equal(routed.request_idx, idx);
      // An id, kept while its request waits: not a payload of any size.
      const long = await g.api('POST', '/route/', { endpoint: 'raw', cost: 1, request_idx: 'x'.repeat(129) });
      assert.deepEqual([long.status, long.body.error], [400, 'invalid_args'], long.text);
      assert.match(long.text, /128 characters/);
      assert.equal((await g.api('POST', '/route/', { endpoint: 'raw', cost: 1, request_idx: 'x'.repeat(128) })).status, 200);
      const epLogs = await g.api('POST', '/get_endpoint_logs/', { endpoint: 'raw', tail: 5 });
      assert.equal(typeof epLogs.body.logs, 'string');
      assert.match(epLogs.body.logs, /--- worker \d+ ---/);
      const wgWorkers = await g.api('POST', '/get_workergroup_workers/', { id: wg.body.id });
      assert.equal(wgWorkers.body.workers.length, 1);
      assert.equal(typeof wgWorkers.body.workers[0].status, 'string');
      assert.match((await g.api('POST', '/get_workergroup_logs/', { id: wg.body.id })).body.logs, /--- worker \d+ ---/);

      assert.equal((await g.api('PUT', `/api/v0/endptjobs/${endpointId}/`, { endpoint_state: 'suspended' })).status, 200);
      assert.equal((await g.api('GET', '/api/v0/endptjobs/')).body.results.find((e: { id: number }) => e.id === endpointId).endpoint_state, 'suspended');
      assert.equal((await g.api('PUT', `/api/v0/endptjobs/${endpointId}/`, { endpoint_state: 'paused' })).status, 400);
      assert.equal((await g.api('PUT', `/api/v0/workergroups/${wg.body.id as number}/`, { search_params: 'num_gpus=1 gpu_ram>=20' })).status, 200);
      assert.equal((await g.api('PUT', '/api/v0/workergroups/999999/', { search_params: 'num_gpus=1' })).status, 404);
      // A template change that leaves env alone keeps the published ports.
      assert.equal((await g.api('PUT', `/api/v0/autojobs/${wg.body.id as number}/`, { image: 'local/worker2' })).status, 200);
      const changed = (await g.api('GET', '/api/v0/workergroups/')).body.results.find((w: { id: number }) => w.id === wg.body.id);
      assert.equal(changed.image, 'local/worker2');
      assert.deepEqual(changed.ports, ['8000/tcp']);
      assert.equal(changed.env.WORKER_PERF, '2');

      const workers = await workersOf(g, endpointId);
      const del = await g.api('DELETE', `/api/v0/endptjobs/${endpointId}/`);
      assert.equal(del.status, 200);
      assert.deepEqual(
        del.body.deleted_workers,
        workers.map((w) => w.id),
      );
      await until('workers destroyed and the endpoint gone', async () => {
        const rows = (await g.api('GET', '/api/v0/endptjobs/')).body.results as { id: number }[];
        return (
          !rows.some((e) => e.id === endpointId) && (await g.api('GET', '/api/v0/workergroups/')).body.results.every((w: { id: number }) => w.id !== wg.body.id)
        );
      });
      for (const w of workers) assert.equal((await g.api('GET', `/api/v0/instances/${w.id}/`)).status, 404, 'worker destroyed');
    });
  });
}
