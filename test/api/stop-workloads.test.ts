import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, createDeployment, SERVERLESS_FAST, until, workersOf } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

interface Row {
  kind: string;
  id: number;
  account_id: number;
  status: string;
  stopped: boolean;
  error: string | null;
}

/**
 * POST /api/v0/gantry/stop_workloads (what `gantry down --workloads` calls): an admin stops every
 * deployment and instance of every account through the normal stops and waits; the deployment
 * recruits no worker again; everything can be started again. Refused to anyone but an admin.
 */
for (const ts of TEST_STORES) {
  describe(`stop every workload (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let bob: { id: number; api_key: string };
    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: SERVERLESS_FAST });
      bob = (await g.api('POST', '/api/v0/users/', { username: 'bob', credit: 100 })).body as { id: number; api_key: string };
    });
    after(() => g.dispose());

    const create = async (key: string | undefined, label: string): Promise<{ id: number; instanceKey: string }> => {
      const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const r = await g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'exec sleep 600', label }, key === undefined ? {} : { key });
      assert.equal(r.status, 200, r.text);
      return { id: r.body.new_contract as number, instanceKey: r.body.instance_api_key as string };
    };

    it('is refused to any account but an admin, and a bad timeout is the caller’s fault', async () => {
      const r = await g.api('POST', '/api/v0/gantry/stop_workloads/', { timeout: 1 }, { key: bob.api_key });
      assert.equal(r.status, 403, r.text);
      assert.equal(r.body.success, false);
      // No body at all is a call with the default timeout (refused here for the account, not for the body).
      assert.equal((await g.api('POST', '/api/v0/gantry/stop_workloads/', undefined, { key: bob.api_key })).body.code, 'ADMIN_ONLY');
      const bad = await g.api('POST', '/api/v0/gantry/stop_workloads/', { timeout: 601 });
      assert.equal(bad.status, 400, bad.text);
      const word = await g.api('POST', '/api/v0/gantry/stop_workloads/', { timeout: 'soon' });
      assert.equal(word.status, 400, word.text);
    });

    it('stops every account’s instances and deployments, waits until they are stopped, and recruits nothing again', async () => {
      const { id: mine, instanceKey } = await create(undefined, 'admin-sleeper');
      const { id: bobs } = await create(bob.api_key, 'bob-sleeper');
      // An instance's own key may stop only its instance, even an admin's instance.
      const own = await g.api('POST', '/api/v0/gantry/stop_workloads/', { timeout: 1 }, { key: instanceKey });
      assert.equal(own.status, 403, own.text);
      assert.equal(own.body.code, 'FORBIDDEN');
      const d = await createDeployment(g, 'stop-all', { min_load: 1, max_workers: 1 });
      await g.waitInstance(mine, (r) => r.actual_status === 'running');
      await g.waitInstance(bobs, (r) => r.actual_status === 'running', undefined, bob.api_key);
      const worker = await until('a worker running', async () => (await workersOf(g, d.endpointId)).find((w) => w.status === 'Ready'));

      const r = await g.api('POST', '/api/v0/gantry/stop_workloads/', { timeout: 60 });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.complete, true, r.text);
      const endpoints = r.body.endpoints as Row[];
      const instances = r.body.instances as Row[];
      assert.deepEqual(
        endpoints.map((e) => [e.id, e.status, e.stopped, e.error]),
        [[d.endpointId, 'stopped', true, null]],
      );
      const byId = new Map(instances.map((i) => [i.id, i]));
      for (const id of [mine, bobs, worker.id]) assert.deepEqual([byId.get(id)?.status, byId.get(id)?.stopped], ['stopped', true], `instance ${id}`);
      assert.equal(byId.get(bobs)?.account_id, bob.id);
      // Stopped, not destroyed: configuration kept, and the user sees why.
      const row = await g.waitInstance(bobs, (x) => x.actual_status === 'stopped', undefined, bob.api_key);
      assert.equal(row.intended_status, 'stopped');
      assert.match(String(row.status_msg), /stopped by an admin/);
      assert.equal((await g.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.gantry_status, 'stopped');

      // Asking again (no body: the default timeout) changes nothing: the deployment's target is stopped, so no worker was recruited meanwhile.
      const again = await g.api('POST', '/api/v0/gantry/stop_workloads/');
      assert.equal(again.body.complete, true, again.text);
      assert.deepEqual((again.body.instances as Row[]).map((i) => i.id).sort(), instances.map((i) => i.id).sort());

      // Each can be started again.
      assert.equal((await g.api('PUT', `/api/v0/instances/${bobs}/`, { state: 'running' }, { key: bob.api_key })).status, 200);
      await g.waitInstance(bobs, (x) => x.actual_status === 'running', undefined, bob.api_key);
    });

    it("a drain under way is bounded to end within the call's own timeout (its workers' grace after it)", async () => {
      const d = await createDeployment(g, 'long-drain', { min_load: 1, max_workers: 1 });
      await until('a worker ready', async () => (await workersOf(g, d.endpointId)).find((w) => w.status === 'Ready'));
      const reqs = Array.from({ length: 2 }, () => call(g, 'long-drain', '/w?ms=120000'));
      await until('both requests held', async () => {
        const x = (await g.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment;
        return x.queued_requests + x.requests_in_flight === 2;
      });
      // Someone's drain of ten minutes: without a bound of its own, the call below would wait its 8 s and give up.
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`, { finish_pending_work: true, timeout: 600 })).status, 200);
      const r = await g.api('POST', '/api/v0/gantry/stop_workloads/', { timeout: 8 });
      assert.equal(r.status, 200, r.text);
      // The drain was cut (it would have answered both after two minutes); the workers' stop follows, within the
      // call on an idle machine (not asserted: a loaded one may take longer than the grace left to it).
      assert.deepEqual(
        (await Promise.all(reqs)).map((x) => [x.status, x.body.code]),
        Array(2).fill([503, 'ENDPOINT_STOPPED']),
      );
      await until('stopped', async () => (await g.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.gantry_status === 'stopped');
    });
  });
}
