import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { createDeployment, SERVERLESS_FAST, until, workersOf } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

const MAX_COST = 100;

for (const ts of ONE_STORE) {
  describe(`serverless request costs (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      // A queued request fails after 10 s, so a stalled worker shows as 504s, not as a hung test.
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, serverlessQueueTimeoutMs: 10_000, maxRequestCost: MAX_COST } });
    });
    after(async () => {
      await g.dispose();
    });

    const send = (path: string, cost?: string): Promise<Response> =>
      fetch(`${g.url}/endpoints/costly${path}`, {
        method: 'POST',
        headers: { authorization: `Bearer ${g.adminKey ?? ''}`, 'content-type': 'text/plain', ...(cost !== undefined ? { 'x-gantry-cost': cost } : {}) },
        body: 'x',
      });

    it('a bad X-Gantry-Cost is a 400 and never stalls the endpoint for the requests after it', async () => {
      const d = await createDeployment(g, 'costly', { min_load: 1, max_workers: 1 });
      await until('a ready worker', async () => (await workersOf(g, d.endpointId)).find((w) => w.status === 'Ready'), 120_000);

      // Held at the worker for a minute if it were let through: the requests below would queue behind its NaN total.
      let settled = false;
      const held = send('/slow?ms=60000', 'NaN').finally(() => (settled = true));
      await until(
        'the NaN request answered or at the worker',
        async () => settled || (await workersOf(g, d.endpointId)).some((w) => w.num_requests_working > 0),
      );
      const statuses = [];
      for (let i = 0; i < 5; i++) {
        const r = await send('/fast', i % 2 === 0 ? '1' : undefined);
        statuses.push(r.status);
        await r.arrayBuffer();
        if (r.status !== 200) break;
      }
      assert.deepEqual(statuses, [200, 200, 200, 200, 200], 'no request after the bad one queued until 504');
      for (const bad of ['Infinity', '-1', 'abc', '1e400', '', String(MAX_COST + 1)]) {
        const r = await send('/x', bad);
        const body = (await r.json()) as { success?: unknown; msg?: unknown };
        assert.equal(r.status, 400, `cost ${JSON.stringify(bad)}: ${JSON.stringify(body)}`);
        assert.equal(body.success, false);
        assert.match(String(body.msg), /X-Gantry-Cost/);
      }
      const first = await held;
      assert.equal(first.status, 400, await first.text());

      const routed = await g.api('POST', '/route/', { endpoint: 'costly', api_key: d.key, cost: MAX_COST + 1 }, { key: null });
      assert.equal(routed.status, 400, routed.text);
      assert.equal((await g.api('POST', '/route/', { endpoint: 'costly', api_key: d.key, cost: MAX_COST }, { key: null })).status, 200);
    });
  });
}
