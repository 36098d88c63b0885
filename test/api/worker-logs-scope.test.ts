import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until, WORKER_ONSTART } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Vast's worker logs (`/get_endpoint_logs/`, `/get_workergroup_logs/`) are a read of the endpoint:
 * a key allowed only `misc` (where Vast files endpoints) reads what the workers printed, as AI Core's
 * deployment logs do; a key allowed only `billing_read` (or `instance_read`) gets neither logs nor workers.
 */
const MARK = 'wlog-marker-41';

for (const ts of TEST_STORES) {
  describe(`worker logs need the endpoint's read permission (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    const keys: Record<string, string> = {};
    let endpointId = 0;
    let workergroupId = 0;

    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: SERVERLESS_FAST });
      const alice = (await g.api('POST', '/api/v0/users/', { username: 'alice', credit: 100 })).body as { api_key: string };
      const a = (m: string, p: string, b?: unknown) => g.api(m, p, b, { key: alice.api_key });
      const ep = await a('POST', '/api/v0/endptjobs/', { endpoint_name: 'logs', min_load: 0, cold_workers: 0, min_workers: 0, max_workers: 1, target_util: 1 });
      assert.equal(ep.status, 200, ep.text);
      endpointId = ep.body.result as number;
      const wg = await a('POST', '/api/v0/autojobs/', {
        endpoint_name: 'logs',
        image: 'local/worker',
        onstart: `echo ${MARK}; ${WORKER_ONSTART}`,
        env: { WORKER_PERF: '2' },
        search_params: 'num_gpus=1',
        test_workers: 0,
      });
      assert.equal(wg.status, 200, wg.text);
      workergroupId = wg.body.id as number;
      for (const c of ['misc', 'billing_read', 'instance_read']) {
        const k = await a('POST', '/api/v0/auth/apikeys/', { name: c, permissions: { api: { [c]: {} } } });
        assert.equal(k.status, 200, k.text);
        keys[c] = k.body.key as string;
      }
      // Demand through /route/ recruits a worker; wait until its output is there.
      const first = await a('POST', '/route/', { endpoint: 'logs', cost: 1, request_idx: 0 });
      assert.equal(first.status, 200, first.text);
      await until(
        'a worker that printed the mark',
        async () => {
          await a('POST', '/route/', { endpoint: 'logs', cost: 1, request_idx: first.body.request_idx });
          const r = await a('POST', '/get_endpoint_logs/', { id: endpointId });
          return typeof r.body?.logs === 'string' && r.body.logs.includes(MARK);
        },
        60_000,
      );
    });
    after(() => g.dispose());

    it("a key allowed only misc reads the workers' logs of the endpoint and of the workergroup", async () => {
      for (const [path, body] of [
        ['/get_endpoint_logs/', { id: endpointId }],
        ['/get_endpoint_logs/', { endpoint: 'logs' }],
        ['/get_workergroup_logs/', { id: workergroupId }],
      ] as const) {
        const r = await g.api('POST', path, body, { key: keys.misc });
        assert.equal(r.status, 200, `${path}: ${r.text}`);
        assert.match(r.body.logs, new RegExp(`--- worker \\d+ ---\\n[^]*${MARK}`), `${path}: ${r.text}`);
      }
    });

    it('keys allowed only billing_read or instance_read get neither logs nor workers (403 in Vast’s shape)', async () => {
      for (const c of ['billing_read', 'instance_read']) {
        for (const [path, body] of [
          ['/get_endpoint_logs/', { id: endpointId }],
          ['/get_workergroup_logs/', { id: workergroupId }],
          ['/get_endpoint_workers/', { id: endpointId }],
          ['/get_workergroup_workers/', { id: workergroupId }],
          ['/route/', { endpoint: 'logs', cost: 1 }],
          ['/endpoints/logs/x', {}],
        ] as const) {
          const r = await g.api('POST', path, body, { key: keys[c] });
          assert.equal(r.status, 403, `${c} ${path}: ${r.text}`);
          assert.equal(r.body.error, 'missing_permissions', `${c} ${path}: ${r.text}`);
          assert.ok(!r.text.includes(MARK) && !r.text.includes('http://'), `${c} ${path}: ${r.text}`);
        }
      }
    });
  });
}
