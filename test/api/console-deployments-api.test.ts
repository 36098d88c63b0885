import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type ApiResponse, type TestGantry } from '../helpers/gantry.js';
import { openEvents, type StreamEvent } from '../helpers/event-stream.js';
import { call, createDeployment, SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { ONE_STORE_PG } from '../helpers/stores.js';

/**
 * The console's data routes over real HTTP with real worker processes, on each store: the Overview's
 * counts, the time series the sampler keeps, every deployment with its traffic and the autoscaler's
 * decisions, stop with drain (every held request answered and counted), start, delete; bad input and
 * another account's things.
 */
// The console's routes are the subject, not the store (the store contract suites run on both): one store, PostgreSQL.
for (const ts of ONE_STORE_PG)
  describe(`console data routes (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let bobKey: string;
    let adminAccount: number;
    let dep: { id: number; endpointId: number };
    const detail = async (id: number, key?: string): Promise<ApiResponse> =>
      g.api('GET', `/console/api/deployments/${id}`, undefined, key === undefined ? {} : { key });
    const points = async (q: string): Promise<[number, number][]> => {
      const r = await g.api('GET', `/console/api/series?${q}`);
      assert.equal(r.status, 200, r.text);
      return r.body.points as [number, number][];
    };

    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, samplerIntervalMs: 200 } });
      adminAccount = (await g.api('GET', '/console/api/session')).body.account.id as number;
      const bob = await g.api('POST', '/api/v0/users/', { username: 'bob', credit: 5 });
      assert.equal(bob.status, 200, bob.text);
      bobKey = bob.body.api_key as string;
      dep = await createDeployment(g, 'console-drain', { min_load: 1, max_workers: 1 });
    });
    after(() => g.dispose());

    it('lists the deployment with the API that made it; its workers, queue, in-flight requests and decisions are shown', async () => {
      const list = await g.api('GET', '/console/api/deployments');
      assert.equal(list.status, 200, list.text);
      const row = (list.body.deployments as Record<string, any>[]).find((d) => d.id === dep.id);
      assert.ok(row, list.text);
      assert.deepEqual([row.name, row.api, row.endpoint_id], ['console-drain', 'vast', dep.endpointId]);
      const ready = await until('a ready worker', async () => {
        const d = (await detail(dep.id)).body;
        // The endpoint is running from the pass after its worker became ready.
        return (d.workers_by_state.ready ?? 0) >= 1 && d.state === 'running' ? d : null;
      });
      assert.ok(ready.decisions.length >= 1, 'the scale-up from zero is recorded');
      assert.match(ready.decisions[0].reason, /load|capacity|min/);
      assert.equal(ready.decisions.at(-1).created, 1);
    });

    it('stop with drain answers every held request, and the deployment shows how many', async () => {
      const sent = 6;
      const reqs = Array.from({ length: sent }, (_, i) => call(g, 'console-drain', `/d?ms=1500&i=${i}`));
      await until('every request held at the gateway', async () => {
        const d = (await detail(dep.id)).body;
        return d.queue + d.in_flight === sent && d.queue > 0;
      });
      const stop = await g.api('POST', `/console/api/deployments/${dep.id}/stop`, { drain: true, timeout_s: 60 });
      assert.equal(stop.status, 200, stop.text);
      assert.equal(stop.body.changed, true);
      assert.equal(stop.body.deployment.state, 'stopping');
      const answers = await Promise.all(reqs);
      assert.deepEqual(
        answers.map((r) => r.status),
        Array(sent).fill(200),
      );
      const done = await until('stopped with its counts', async () => {
        const d = (await detail(dep.id)).body;
        return d.state === 'stopped' && d.stop.answered === sent ? d : null;
      });
      assert.deepEqual(done.stop, { answered: sent, failed: 0, rejected: 0, drain_timed_out: false });
    });

    it('keeps time series: requests per second and queue depth of the endpoint, spend, fleet GPU utilisation', async () => {
      await until('a request rate', async () => (await points(`name=rps&subject=${dep.endpointId}&since=0`)).some(([, v]) => v > 0));
      await until('a queue depth', async () => (await points(`name=queue&subject=${dep.endpointId}&since=0`)).some(([, v]) => v > 0));
      await until('a spend rate', async () => (await points('name=spend&since=0')).some(([, v]) => v > 0));
      const gpu = await until('fleet GPU utilisation', async () => {
        const p = await points('name=gpu_util&subject=0&since=0');
        return p.length > 0 ? p : null;
      });
      const [t] = gpu[0] as [number, number];
      assert.ok(t > 1.7e9 && t < 1e11, `unix seconds: ${t}`);
      const r = await g.api('GET', `/console/api/series?name=rps&subject=${dep.endpointId}`);
      assert.deepEqual([r.body.name, r.body.subject, r.body.step_s], ['rps', dep.endpointId, 0.2]);
    });

    it('shows the overview: machines and GPUs by state, deployments by state, spend and balance', async () => {
      const o = await g.api('GET', '/console/api/overview');
      assert.equal(o.status, 200, o.text);
      assert.equal(o.body.machines.total, 1);
      assert.equal(o.body.machines.gpus_by_state.free + o.body.machines.gpus_by_state.rented, 4);
      assert.ok(o.body.deployments.by_status.stopped >= 1, o.text);
      assert.equal(typeof o.body.billing.spend_per_hour, 'number');
      assert.equal(typeof o.body.billing.balance, 'number');
      assert.ok(o.body.instances.total >= 1);
    });

    it('gives a key only the parts of the overview it may read, and refuses series outside its categories', async () => {
      const k = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'only misc', permissions: { api: { misc: {} } } });
      assert.equal(k.status, 200, k.text);
      const o = await g.api('GET', '/console/api/overview', undefined, { key: k.body.key });
      assert.equal(o.status, 200, o.text);
      assert.deepEqual([o.body.machines, o.body.instances, o.body.billing], [null, null, null]);
      assert.ok(o.body.deployments.total >= 1);
      const spend = await g.api('GET', '/console/api/series?name=spend', undefined, { key: k.body.key });
      assert.deepEqual([spend.status, spend.body.error.code], [403, 'PERMISSION_MISSING']);
      assert.equal((await g.api('GET', `/console/api/series?name=rps&subject=${dep.endpointId}`, undefined, { key: k.body.key })).status, 200);
      // An instance's own key counts its instance only, not its account's others.
      const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const other = await g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 600', target_state: 'stopped' });
      assert.equal(other.status, 200, other.text);
      const own = await g.api('GET', '/console/api/overview', undefined, { key: other.body.instance_api_key });
      assert.equal(own.status, 200, own.text);
      assert.deepEqual([own.body.instances.total, own.body.machines, own.body.billing], [1, null, null], own.text);
      assert.ok((await g.api('GET', '/console/api/overview')).body.instances.total >= 2);
      assert.equal((await g.api('DELETE', `/api/v0/instances/${other.body.new_contract}/`)).status, 200);
    });

    it('starts it again; refuses to delete it while it runs; deletes it once stopped', async () => {
      const start = await g.api('POST', `/console/api/deployments/${dep.id}/start`, {});
      assert.equal(start.status, 200, start.text);
      assert.equal(start.body.changed, true);
      const refused = await g.api('DELETE', `/console/api/deployments/${dep.id}`);
      assert.equal(refused.status, 409, refused.text);
      assert.equal(typeof refused.body.error.message, 'string');
      assert.equal((await g.api('POST', `/console/api/deployments/${dep.id}/stop`, { drain: false, force: true })).status, 200);
      await until('stopped', async () => (await detail(dep.id)).body.state === 'stopped');
      const del = await g.api('DELETE', `/console/api/deployments/${dep.id}`);
      assert.equal(del.status, 200, del.text);
      assert.equal(del.body.changed, true);
      await until('gone from the list', async () => {
        const l = await g.api('GET', '/console/api/deployments');
        return !(l.body.deployments as { id: number }[]).some((d) => d.id === dep.id);
      });
    });

    it("a deployment deleted over another API reaches the owner's event stream as a null row, and no other account's", async () => {
      const gone = await createDeployment(g, 'deleted-elsewhere', { min_load: 0, max_workers: 1 });
      const mine = await openEvents(g.url, g.adminKey as string);
      const theirs = await openEvents(g.url, bobKey);
      try {
        await mine.waitFor((e) => e.event === 'hello', 5000, 'hello');
        await theirs.waitFor((e) => e.event === 'hello', 5000, 'hello');
        const del = await g.api('DELETE', `/api/v0/deployment/${gone.id}`);
        assert.equal(del.status, 200, del.text);
        await mine.waitFor((e) => e.event === 'deployment' && e.data.id === gone.endpointId && e.data.row === null, 20_000, 'the deletion');
        assert.deepEqual(
          theirs.events.filter((e) => e.event === 'deployment'),
          [],
          "another account's deletion is not pushed",
        );
      } finally {
        mine.close();
        theirs.close();
      }
    });

    it("tells a key limited to one deployment of that deployment's changes: its limit names the deployment's id, not its endpoint's", async () => {
      // An endpoint of its own first, so that the deployment's id and its endpoint's differ.
      const spacer = await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'spacer', min_load: 0, cold_workers: 0, min_workers: 0, max_workers: 0 });
      assert.equal(spacer.status, 200, spacer.text);
      const d = await createDeployment(g, 'limited-push', { min_load: 0, max_workers: 1 });
      assert.notEqual(d.id, d.endpointId);
      const k = await g.api('POST', '/api/v0/auth/apikeys/', {
        name: 'one deployment',
        permissions: { api: { misc: { only: { constraints: { id: { eq: d.id } } } } } },
      });
      assert.equal(k.status, 200, k.text);
      assert.equal((await detail(d.id, k.body.key as string)).status, 200, 'REST reads it by its own id');
      const s = await openEvents(g.url, k.body.key as string);
      try {
        await s.waitFor((e) => e.event === 'hello', 5000, 'hello');
        assert.equal((await g.api('POST', `/console/api/deployments/${d.id}/stop`, { drain: false, force: true })).status, 200);
        await s.waitFor((e) => e.event === 'deployment' && e.data.id === d.endpointId, 20_000, 'its own deployment pushed');
      } finally {
        s.close();
      }
    });

    it("tells a key limited to one deployment of that deployment's final deletion, and not of another's", async () => {
      const d = await createDeployment(g, 'limited-delete', { min_load: 0, max_workers: 1 });
      const other = await createDeployment(g, 'limited-delete-other', { min_load: 0, max_workers: 1 });
      const k = await g.api('POST', '/api/v0/auth/apikeys/', {
        name: 'one deployment to delete',
        permissions: { api: { misc: { only: { constraints: { id: { eq: d.id } } } } } },
      });
      assert.equal(k.status, 200, k.text);
      const limited = await openEvents(g.url, k.body.key as string);
      const owner = await openEvents(g.url, g.adminKey as string);
      const gone = (e: StreamEvent, endpointId: number): boolean => e.event === 'deployment' && e.data.id === endpointId && e.data.row === null;
      try {
        await limited.waitFor((e) => e.event === 'hello', 5000, 'hello');
        await owner.waitFor((e) => e.event === 'hello', 5000, 'hello');
        // The other deployment goes first: once the owner has heard of it, the limited stream was written to then or never.
        assert.equal((await g.api('DELETE', `/api/v0/deployment/${other.id}`)).status, 200);
        await owner.waitFor((e) => gone(e, other.endpointId), 20_000, "the other deployment's deletion");
        assert.equal((await g.api('DELETE', `/api/v0/deployment/${d.id}`)).status, 200);
        // The last change of a delete finds the deployment record already deleted: checked by its id all the same.
        await limited.waitFor((e) => gone(e, d.endpointId), 20_000, 'its own deletion');
        assert.deepEqual(
          limited.events.filter((e) => e.event === 'deployment' && e.data.id !== d.endpointId),
          [],
          'no event of a deployment the key may not see',
        );
      } finally {
        limited.close();
        owner.close();
      }
    });

    it('answers bad input with 400 in the console shape', async () => {
      const bad: [string, string, unknown?][] = [
        ['GET', '/console/api/series?name=nope'],
        ['GET', '/console/api/series'],
        ['GET', '/console/api/series?name=rps'],
        ['GET', '/console/api/series?name=spend&since=-5'],
        ['GET', '/console/api/series?name=spend&subject=abc'],
        ['GET', '/console/api/series?name=spend&color=red'],
        ['GET', '/console/api/deployments/abc'],
        ['POST', `/console/api/deployments/${dep.id}/stop`, { drain: 'yes' }],
        ['POST', `/console/api/deployments/${dep.id}/stop`, { timeout_s: -1 }],
        ['POST', `/console/api/deployments/${dep.id}/stop`, { finish: true }],
        ['POST', `/console/api/deployments/${dep.id}/stop`, [1]],
      ];
      for (const [method, path, body] of bad) {
        const r = await g.api(method, path, body);
        assert.equal(r.status, 400, `${method} ${path}: ${r.text}`);
        assert.equal(r.body.error.code, 'INVALID_ARGUMENT', r.text);
        assert.equal(typeof r.body.error.message, 'string');
      }
    });

    it('another account sees none of it: its deployment, endpoint series and spend are not found, its overview is its own', async () => {
      const other = await createDeployment(g, 'not-bobs', { min_load: 0, max_workers: 1 });
      const as = { key: bobKey };
      for (const [method, path, body] of [
        ['GET', `/console/api/deployments/${other.id}`],
        ['POST', `/console/api/deployments/${other.id}/stop`, { drain: true }],
        ['POST', `/console/api/deployments/${other.id}/start`, {}],
        ['DELETE', `/console/api/deployments/${other.id}`],
      ] as [string, string, unknown?][]) {
        const r = await g.api(method, path, body, as);
        assert.equal(r.status, 404, `${method} ${path}: ${r.text}`);
        assert.equal(r.body.error.code, 'DEPLOYMENT_NOT_FOUND');
      }
      for (const q of [
        `name=rps&subject=${other.endpointId}`,
        `name=queue&subject=${other.endpointId}`,
        `name=spend&subject=${adminAccount}`,
        'name=gpu_util&subject=0',
      ]) {
        const r = await g.api('GET', `/console/api/series?${q}`, undefined, as);
        assert.equal(r.status, 404, `${q}: ${r.text}`);
        assert.equal(r.body.error.code, 'SERIES_NOT_FOUND');
      }
      assert.deepEqual((await g.api('GET', '/console/api/deployments', undefined, as)).body.deployments, []);
      const o = await g.api('GET', '/console/api/overview', undefined, as);
      assert.deepEqual([o.body.machines.total, o.body.deployments.total, o.body.instances.total], [0, 0, 0]);
      assert.equal(o.body.billing.balance, 5);
      assert.equal((await g.api('GET', '/console/api/series?name=spend', undefined, as)).status, 200, 'its own spend');
    });
  });
