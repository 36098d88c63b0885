import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { tinyClassifier } from '../fixtures/onnx/models.js';
import { esClient, esRaw } from '../helpers/elastic.js';
import { CLASSIFICATION, uploadModel } from '../helpers/elastic-models.js';
import { startTestGantry, type ApiResponse, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

// Both replicas sign and key alike, so either serves the other's keys.
const SHARED = { ...SERVERLESS_FAST, adminKey: 'gnt_concurrent_changes_admin', secret: 'concurrent-changes-secret' };
const RENT = { image: 'x', onstart: 'sleep 300', runtype: 'ssh', disk: 1 };

/**
 * What a demanding user gets from several clients changing the same thing at once, over real HTTP: on
 * PostgreSQL through two replicas of one database (every other request through the other one), on SQLite
 * through one server. Every answer is the one a single request would get, or a 4xx in the dialect's shape.
 */
for (const ts of TEST_STORES) {
  describe(`concurrent changes of one thing (${ts.name})`, { skip: ts.skip }, () => {
    let a: TestGantry;
    let b: TestGantry;
    let machine: number;
    before(async () => {
      a = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: SHARED });
      b = ts.name === 'postgres' ? await startTestGantry(ts, { database: a.database, localHost: false, settings: SHARED }) : a;
      machine = (await a.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    });
    after(async () => {
      if (b !== a) await b.dispose();
      await a.dispose();
    });

    /** n copies of one request at once, every other one through the second replica. */
    const atOnce = (n: number, method: string, path: string, body?: unknown): Promise<ApiResponse[]> =>
      Promise.all(Array.from({ length: n }, (_, i) => (i % 2 === 0 ? a : b).api(method, path, body)));
    const destroyAll = async (ids: number[]): Promise<void> => {
      for (const id of ids) assert.equal((await a.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
      for (const id of ids)
        await until(`instance ${id} destroyed`, async () => {
          // A destroyed instance leaves the listing (404).
          const r = await a.api('GET', `/api/v0/instances/${id}/`);
          return r.status === 404 || r.body?.instances?.actual_status === 'destroyed';
        });
    };

    it('the whole machine rented by eight clients at once: one rental, seven 409 no_such_ask, its GPUs held once', async () => {
      const rs = await atOnce(8, 'PUT', `/api/v0/asks/${machine * 1000 + 2}/`, RENT);
      const won = rs.filter((r) => r.status === 200);
      assert.equal(won.length, 1, JSON.stringify(rs.map((r) => r.text)));
      for (const r of rs.filter((x) => x.status !== 200)) {
        assert.equal(r.status, 409, r.text);
        assert.equal(r.body.success, false, r.text);
        assert.equal(r.body.error, 'no_such_ask', r.text);
        assert.equal(typeof r.body.msg, 'string', r.text);
      }
      const live = (await a.store.listInstances({ accountId: null })).filter((i) => i.status !== 'destroyed');
      assert.deepEqual(
        live.map((i) => [i.id, [...i.gpuIndices].sort()]),
        [[won[0]?.body.new_contract, [0, 1]]],
      );
      await destroyAll([won[0]?.body.new_contract as number]);
    });

    it('a stopped instance started by eight clients at once: every answer 200, one start, no word of another renter', async () => {
      const rented = await a.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, RENT);
      assert.equal(rented.status, 200, rented.text);
      const id = rented.body.new_contract as number;
      await a.waitInstance(id, (x) => x.actual_status === 'running');
      for (let round = 0; round < 3; round++) {
        assert.equal((await a.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
        await a.waitInstance(id, (x) => x.actual_status === 'stopped');
        const before = await a.store.getInstance(id);
        const rs = await atOnce(8, 'PUT', `/api/v0/instances/${id}/`, { state: 'running' });
        // Before: the second of two starts read at once found the first one's GPU rows and answered 409 "GPU 0 on
        // machine 1 is rented by another instance now", writing that into the instance's status message.
        for (const r of rs) assert.equal(r.status, 200, r.text);
        const row = await a.store.getInstance(id);
        assert.equal(row?.generation, (before?.generation ?? 0) + 1, 'one start written, the others were repeats');
        assert.equal(row?.target, 'running');
        assert.doesNotMatch(row?.statusMsg ?? '', /rented by another/);
        assert.deepEqual(row?.gpuIndices, before?.gpuIndices);
        await a.waitInstance(id, (x) => x.actual_status === 'running');
      }
      await destroyAll([id]);
    });

    it('an Elasticsearch deployment stopped by six clients at once: every answer 200 stopped, and it is gone', async () => {
      await uploadModel(esClient(a), 'racy', tinyClassifier({ labels: 3, hidden: 8, seed: 7 }), CLASSIFICATION);
      const started = await esRaw(a, 'POST', '/_ml/trained_models/racy/deployment/_start?deployment_id=racy-d&wait_for=starting');
      assert.equal(started.status, 200, started.text);
      const rs = await Promise.all(Array.from({ length: 6 }, (_, i) => esRaw(i % 2 === 0 ? a : b, 'POST', '/_ml/trained_models/racy-d/deployment/_stop')));
      // Before: a stop that found the deployment deleted by another one under it answered 404 "No endpoint with
      // id N." (or 409 "being deleted"), though a stop of a deployment already gone answers 200.
      for (const r of rs) {
        assert.equal(r.status, 200, r.text);
        assert.equal(r.body.stopped, true, r.text);
      }
      const stats = await esRaw(b, 'GET', '/_ml/trained_models/racy-d/_stats');
      assert.equal(stats.status, 404, stats.text);
    });
  });
}
