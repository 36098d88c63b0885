import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { gantry, type CliResult } from '../helpers/cli.js';
import { startTestGantry, type ApiResponse, type TestGantry } from '../helpers/gantry.js';
import { call, createDeployment, SERVERLESS_FAST, until, WORKER_ONSTART, workersOf } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';
import { illegal, recordTransitions, type Transition } from '../helpers/transitions.js';

const SHARED = { ...SERVERLESS_FAST, adminKey: 'gnt_serverless_races_admin', secret: 'serverless-races-secret' };
const SETTLED = new Set(['running', 'stopped', 'failed', 'deleted']);
const RENT = { image: 'x', onstart: 'sleep 300', runtype: 'ssh', disk: 1 };

/**
 * Conflicting Vast deployment calls at the same moment, with real worker processes: on PostgreSQL half of them
 * through a second replica. After each, every call had a definite answer, the deployment rests in a settled
 * state, and the workloads that run are the workers the store says run.
 */
for (const ts of TEST_STORES)
  describe(`Vast deployment calls at once (${ts.name})`, { skip: ts.skip, timeout: 400_000 }, () => {
    let a: TestGantry;
    let b: TestGantry;
    const seen: { transitions: Transition[]; restore(): void }[] = [];
    const legal = () => assert.deepEqual(illegal(seen.flatMap((r) => r.transitions)), []);
    before(async () => {
      a = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: SHARED });
      b = ts.name === 'postgres' ? await startTestGantry(ts, { database: a.database, localHost: false, settings: SHARED }) : a;
      for (const g of b === a ? [a] : [a, b]) seen.push(recordTransitions(g));
    });
    after(async () => {
      for (const r of seen) r.restore();
      if (b !== a) await b.dispose();
      await a.dispose();
    });

    const at = (i: number): TestGantry => (i % 2 === 0 ? a : b);
    const show = async (id: number) => (await a.api('GET', `/api/v0/deployment/${id}/`)).body.deployment;
    /**
     * Every workload that runs is an instance the store means to run (none left behind, whatever endpoint it served),
     * and the endpoint's workers the store shows running do run.
     */
    const workloadsMatch = async (endpointId: number): Promise<boolean> => {
      for (const id of await a.runtime!.list()) {
        if ((await a.runtime!.inspect(id)).state !== 'running') continue;
        if ((await a.store.getInstance(id))?.target !== 'running') return false;
      }
      const shown = (await a.store.listInstances({ accountId: null })).filter((i) => i.endpointId === endpointId && i.status === 'running');
      for (const i of shown) if ((await a.runtime!.inspect(i.id)).state !== 'running') return false;
      return true;
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
      legal();
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
      legal();
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
      // The endpoint API's start (endpoint_state active) with new limits: refused as a whole, the limits kept.
      const before = (await a.store.getEndpoint(d.endpointId))?.params;
      const active = await b.api('PUT', `/api/v0/endptjobs/${d.endpointId}/`, { endpoint_state: 'active', max_workers: 3 });
      assert.equal(active.status, 409, active.text);
      assert.equal(active.body.success, false, active.text);
      assert.deepEqual((await a.store.getEndpoint(d.endpointId))?.params, before, 'a refused request changes nothing');
      const del = await b.api('DELETE', `/api/v0/deployment/${d.id}/`);
      assert.equal(del.status, 200, del.text);
      const answer = await held;
      assert.ok(answer.status < 500 || answer.status === 503, JSON.stringify(answer));
      const ep = await settled(d.id, d.endpointId);
      assert.equal(ep.status, 'deleted');
      legal();
    });

    /** 200, or a 4xx in Vast's error shape. */
    const definite = (r: ApiResponse) => {
      if (r.status === 200) return;
      assert.ok(r.status >= 400 && r.status < 500, r.text);
      assert.equal(r.body.success, false, r.text);
      assert.equal(typeof r.body.msg, 'string', r.text);
    };
    /** The instance settled where its target says, and its workload runs exactly when the store says it runs. */
    const instanceSettled = (id: number) =>
      until(`instance ${id} settled`, async () => {
        const i = await a.store.getInstance(id);
        if (i === undefined) return false;
        const runs = (await a.runtime!.inspect(id)).state === 'running';
        const want = i.target === 'running' ? 'running' : i.target === 'stopped' ? 'stopped' : 'destroyed';
        return i.status === want && runs === (want === 'running') && i.observedGeneration === i.generation && i;
      });
    const rent = async (): Promise<number> => {
      const machine = (await a.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const r = await a.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, RENT);
      assert.equal(r.status, 200, r.text);
      const id = r.body.new_contract as number;
      await a.waitInstance(id, (x) => x.actual_status === 'running');
      return id;
    };

    it('an instance told running, stopped and deleted at once: every answer definite, it is destroyed and runs nothing', async () => {
      const id = await rent();
      for (let round = 0; round < 3; round++) {
        const rs = await Promise.all([
          a.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' }),
          b.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' }),
        ]);
        rs.forEach(definite);
        const i = await instanceSettled(id);
        if (i.target === 'stopped') {
          assert.equal((await a.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' })).status, 200);
          await instanceSettled(id);
        }
      }
      const rs = await Promise.all([
        a.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' }),
        b.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' }),
        b.api('DELETE', `/api/v0/instances/${id}/`),
      ]);
      rs.forEach(definite);
      assert.equal(rs[2]?.status, 200, rs[2]?.text);
      const i = await instanceSettled(id);
      assert.equal(i.status, 'destroyed');
    });

    it('the same through the CLI, three processes at once: each exits with one line, no stack, and the instance is destroyed', async () => {
      const id = await rent();
      const env = { ...process.env, GANTRY_API_KEY: SHARED.adminKey };
      const rs: CliResult[] = await Promise.all(
        (['stop', 'start', 'destroy'] as const).map((verb) =>
          gantry([verb, 'instance', String(id)], { ...env, GANTRY_URL: (verb === 'start' ? a : b).url }, 120_000),
        ),
      );
      for (const r of rs) {
        assert.ok(r.code === 0 || r.code === 1, JSON.stringify(r));
        assert.doesNotMatch(r.stderr, /\n\s+at /, r.stderr);
        assert.ok((r.code === 0 ? r.stdout : r.stderr).trim().length > 0, JSON.stringify(r));
      }
      assert.equal(rs[2]?.code, 0, JSON.stringify(rs[2]));
      const i = await instanceSettled(id);
      assert.equal(i.status, 'destroyed');
    });

    it('a deployment drained, started and deleted by three CLI processes at once: one line each, no stack, it is deleted', async () => {
      const d = await createDeployment(a, 'cli-race', { min_load: 1, max_workers: 1 });
      await until('a ready worker', async () => (await workersOf(a, d.endpointId)).some((w) => w.status === 'Ready'));
      const held = call(b, 'cli-race', '/slow?ms=3000');
      await until(
        'in flight',
        async () => (await show(d.id)).requests_in_flight + (await b.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.requests_in_flight > 0,
      );
      const env = { ...process.env, GANTRY_API_KEY: SHARED.adminKey };
      const rs: CliResult[] = await Promise.all(
        [
          ['stop', 'deployment', String(d.id), '--drain'],
          ['start', 'deployment', String(d.id)],
          ['delete', 'deployment', String(d.id)],
        ].map((args, i) => gantry(args, { ...env, GANTRY_URL: at(i).url }, 120_000)),
      );
      for (const r of rs) {
        assert.ok(r.code === 0 || r.code === 1, JSON.stringify(r));
        assert.doesNotMatch(r.stderr, /\n\s+at /, r.stderr);
        assert.ok((r.code === 0 ? r.stdout : r.stderr).trim().length > 0, JSON.stringify(r));
      }
      assert.equal(rs[2]?.code, 0, JSON.stringify(rs[2]));
      const answer = await held;
      assert.ok(answer.status === 200 || answer.status === 503, JSON.stringify(answer));
      const ep = await settled(d.id, d.endpointId);
      assert.equal(ep.status, 'deleted');
      legal();
    });
  });
