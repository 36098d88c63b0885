import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, createDeployment, SERVERLESS_FAST, until, WORKER_ONSTART, workersOf } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

const SHARED = { ...SERVERLESS_FAST, adminKey: 'gnt_serverless_races_admin', secret: 'serverless-races-secret' };
const SETTLED = new Set(['running', 'stopped', 'failed', 'deleted']);

/**
 * Conflicting Vast deployment calls at the same moment, with real worker processes: on PostgreSQL half of them
 * through a second replica. After each, every call had a definite answer, the deployment rests in a settled
 * state, and the workloads that run are the workers the store says run.
 */
for (const ts of TEST_STORES)
  describe(`Vast deployment calls at once (${ts.name})`, { skip: ts.skip, timeout: 400_000 }, () => {
    let a: TestGantry;
    let b: TestGantry;
    before(async () => {
      a = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: SHARED });
      b = ts.name === 'postgres' ? await startTestGantry(ts, { database: a.database, localHost: false, settings: SHARED }) : a;
    });
    after(async () => {
      if (b !== a) await b.dispose();
      await a.dispose();
    });

    const show = async (id: number) => (await a.api('GET', `/api/v0/deployment/${id}/`)).body.deployment;
    /** Workloads that run are the endpoint's workers the store calls running (or on their way), and none else. */
    const workloadsMatch = async (endpointId: number): Promise<boolean> => {
      const live = (await a.store.listInstances({ accountId: null })).filter((i) => i.endpointId === endpointId && i.target !== 'deleted');
      const ids = new Set(await a.runtime!.list());
      const mine = (await a.store.listInstances({ accountId: null })).filter((i) => i.endpointId === endpointId && ids.has(i.id));
      const running = [];
      for (const i of mine) if ((await a.runtime!.inspect(i.id)).state === 'running') running.push(i.id);
      const meant = live.filter((i) => i.target === 'running').map((i) => i.id);
      return running.every((id) => meant.includes(id));
    };
    const settled = (id: number, endpointId: number) =>
      until(`deployment ${id} settled`, async () => {
        const ep = await a.store.getEndpoint(endpointId);
        return (
          ep !== undefined && SETTLED.has(ep.status) && (ep.status === 'running' ? ep.target === 'running' : true) && (await workloadsMatch(endpointId)) && ep
        );
      });

    it('a delete while requests wait for the first worker of a deployment scaled to zero: every request answered, nothing left running', async () => {
      const d = await createDeployment(a, 'zero-del', { min_load: 0, max_workers: 1, onstart: `sleep 2; ${WORKER_ONSTART}` });
      const reqs = Array.from({ length: 4 }, (_, i) => call(i % 2 === 0 ? a : b, 'zero-del', `/w?i=${i}`));
      await until('a worker recruited for the held requests', async () => (await workersOf(a, d.endpointId)).length > 0);
      const del = await b.api('DELETE', `/api/v0/deployment/${d.id}/`);
      assert.equal(del.status, 200, del.text);
      const answers = await Promise.all(reqs);
      for (const r of answers) assert.ok(r.status === 200 || (r.status >= 400 && r.status < 500) || r.status === 503, JSON.stringify(r.body));
      const ep = await settled(d.id, d.endpointId);
      assert.equal(ep.status, 'deleted');
      await until('its workers destroyed', () => workloadsMatch(d.endpointId));
    });

    it('stop and start of one deployment at once, many times: each answered 200 or 409, it settles as the last write says', async () => {
      const d = await createDeployment(a, 'flip', { min_load: 1, max_workers: 1 });
      await until('a ready worker', async () => (await workersOf(a, d.endpointId)).some((w) => w.status === 'Ready'));
      for (let round = 0; round < 4; round++) {
        const [stop, start] = await Promise.all([
          a.api('POST', `/api/v0/deployment/${d.id}/stop/`, {}),
          b.api('POST', `/api/v0/deployment/${d.id}/start/`, {}),
        ]);
        for (const r of [stop, start]) {
          assert.ok(r.status === 200 || r.status === 409, r.text);
          assert.equal(typeof r.body.success, 'boolean', r.text);
        }
        const ep = await settled(d.id, d.endpointId);
        assert.equal(ep.target === 'running' ? 'running' : 'stopped', ep.status === 'failed' ? ep.target : ep.status, JSON.stringify(ep));
        if (ep.target === 'stopped') {
          const again = await a.api('POST', `/api/v0/deployment/${d.id}/start/`, {});
          assert.equal(again.status, 200, again.text);
          await until('running again', async () => (await show(d.id)).gantry_status === 'running');
        }
      }
      assert.equal((await a.api('DELETE', `/api/v0/deployment/${d.id}/`)).status, 200);
      await settled(d.id, d.endpointId);
    });

    it('during a drain: a start is 409, a delete ends it; the request in flight is answered, nothing is left running', async () => {
      const d = await createDeployment(a, 'drain-del', { min_load: 1, max_workers: 1 });
      await until('a ready worker', async () => (await workersOf(a, d.endpointId)).some((w) => w.status === 'Ready'));
      const held = call(b, 'drain-del', '/slow?ms=4000');
      await until(
        'in flight',
        async () => (await show(d.id)).requests_in_flight + (await b.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.requests_in_flight > 0,
      );
      const stop = await a.api('POST', `/api/v0/deployment/${d.id}/stop/`, { finish_pending_work: true, timeout: 60 });
      assert.equal(stop.status, 200, stop.text);
      const start = await b.api('POST', `/api/v0/deployment/${d.id}/start/`, {});
      assert.equal(start.status, 409, start.text);
      assert.equal(start.body.success, false, start.text);
      const del = await b.api('DELETE', `/api/v0/deployment/${d.id}/`);
      assert.equal(del.status, 200, del.text);
      const answer = await held;
      assert.ok(answer.status < 500 || answer.status === 503, JSON.stringify(answer));
      const ep = await settled(d.id, d.endpointId);
      assert.equal(ep.status, 'deleted');
    });
  });
