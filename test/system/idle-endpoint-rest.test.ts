import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, createDeployment, SERVERLESS_FAST, until, workersOf } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

const HOUR = 3_600_000;

/**
 * A running endpoint scaled to zero rests (decision 026): the serverless loop passes it only every
 * idleEndpointRecheckMs (an hour here) until something asks for it. What asks, through real HTTP and real
 * worker processes: a request held at the gateway (the request is answered, scaled from zero), a change of
 * its settings, and a request still held when a pass that did not see it let the endpoint rest (the loop's
 * next tick wakes it). The rest itself is the store's (the serverless store contract, both stores); the
 * other replica's request is in serverless-replicas.test.ts.
 */
for (const ts of ONE_STORE)
  describe(`an endpoint scaled to zero rests (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    const restUntil = async (endpointId: number) => (await g.store.getEndpoint(endpointId))?.restUntil ?? null;
    const resting = async (endpointId: number) => ((await restUntil(endpointId)) ?? 0) > Date.now();

    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, idleEndpointRecheckMs: HOUR } });
    });
    after(() => g?.dispose());

    it('rests with no worker; a request wakes it and is answered; back at zero it rests again; a change of its settings wakes it', async () => {
      const d = await createDeployment(g, 'idle', { min_load: 0, max_workers: 1 });
      await until('resting, scaled to zero', () => resting(d.endpointId));
      const rest = (await restUntil(d.endpointId)) as number;
      assert.ok(rest > Date.now() + HOUR - 60_000, 'for idleEndpointRecheckMs');
      // Each pass would write its own now + an hour: ten ticks of the loop pass it by.
      await new Promise((r) => setTimeout(r, 10 * SERVERLESS_FAST.autoscaleIntervalMs));
      assert.equal(await restUntil(d.endpointId), rest, 'no pass while it rests');
      assert.equal((await workersOf(g, d.endpointId)).length, 0);

      const answered = await call(g, 'idle', '/first');
      assert.equal(answered.status, 200, 'held while a worker was recruited, then answered');
      assert.equal(answered.body.path, '/first');

      // The load window and the scale-down delay pass (SERVERLESS_FAST: 1.5 s and 1 s): the worker goes, the endpoint rests.
      await until('back at zero, resting', async () => (await workersOf(g, d.endpointId)).length === 0 && (await resting(d.endpointId)));
      const changed = await g.api('PUT', `/api/v0/endptjobs/${d.endpointId}/`, { min_load: 1 });
      assert.equal(changed.status, 200, changed.text);
      await until('a worker recruited for the new floor', async () => (await workersOf(g, d.endpointId)).length > 0);
      assert.equal(await resting(d.endpointId), false);
      assert.equal((await g.api('DELETE', `/api/v0/deployment/${d.id}/`)).status, 200);
      await until('deleted', async () => (await g.store.getEndpoint(d.endpointId))?.status === 'deleted');
    });

    it('with cold workers only it rests; a request starts the cold worker; its owner destroying it wakes the endpoint to replace it', async () => {
      // One worker kept in reserve: recruited, benchmarked, stopped once the load window and the scale-down delay pass.
      const d = await createDeployment(g, 'cold', { min_load: 0, min_workers: 1, cold_workers: 1, max_workers: 1 });
      const coldRest = async () => {
        const ws = await workersOf(g, d.endpointId);
        return ws.length === 1 && ws[0]?.status === 'Inactive' && (await resting(d.endpointId)) ? ws[0] : undefined;
      };
      const cold = await until('one cold worker, resting', coldRest, 60_000);
      const rest = (await restUntil(d.endpointId)) as number;
      await new Promise((r) => setTimeout(r, 10 * SERVERLESS_FAST.autoscaleIntervalMs));
      assert.equal(await restUntil(d.endpointId), rest, 'no pass while it rests');

      const answered = await call(g, 'cold', '/warm');
      assert.equal(answered.status, 200, 'held while the cold worker started, then answered');
      assert.equal(answered.body.worker, cold.id, 'the cold worker, started again');
      assert.equal((await until('cold and resting again', coldRest, 60_000)).id, cold.id);

      // Its owner destroys the worker's instance: no intent on the endpoint, yet it wants its reserve back. The
      // host has not acted on it yet (the reconciler held: its host may be away), so no new status is recorded:
      // the intent alone wakes the endpoint.
      await g.control.reconciler.stop();
      try {
        assert.equal((await g.api('DELETE', `/api/v0/instances/${cold.id}/`)).status, 200);
        const next = await until('a new worker recruited in its place', async () => (await workersOf(g, d.endpointId)).find((w) => w.id !== cold.id));
        assert.notEqual(next.id, cold.id);
      } finally {
        g.control.reconciler.start();
      }
      assert.equal((await g.api('DELETE', `/api/v0/deployment/${d.id}/`)).status, 200);
      await until('deleted', async () => (await g.store.getEndpoint(d.endpointId))?.status === 'deleted');
    });

    it("a request still held when another replica's pass let the endpoint rest wakes it at the next tick", async () => {
      // No offer matches (the host has two GPUs): the request waits in the queue, its worker never comes.
      const d = await createDeployment(g, 'held', { min_load: 0, max_workers: 1, search_params: 'num_gpus=8' });
      await until('resting, scaled to zero', () => resting(d.endpointId));
      const held = call(g, 'held', '/waits');
      await until('woken by the request: a recruit tried, backing off', async () => (await g.store.getEndpoint(d.endpointId))?.statusMsg?.includes('no offer'));
      // A pass that did not see the request (as another replica's) lets it rest; its lease is taken when free.
      const applied = await until('a pass that rests it', async () => {
        const now = Date.now();
        const claimed = await g.store.claimEndpoints({ owner: 'elsewhere', now, leaseMs: 10_000, limit: 200 });
        let outcome: string | null = null;
        for (const e of claimed) {
          const r = await g.store.applyEndpointPass(e.id, e.leaseToken as string, {
            generation: e.generation,
            memory: e.memory,
            now,
            ...(e.id === d.endpointId ? { restUntil: now + HOUR } : {}),
          });
          if (e.id === d.endpointId) outcome = r;
        }
        return outcome;
      });
      assert.equal(applied, 'applied');
      await until('the held request woke it at the next tick', async () => !(await resting(d.endpointId)));
      assert.equal((await g.api('DELETE', `/api/v0/deployment/${d.id}/`)).status, 200);
      const refused = await held;
      assert.notEqual(refused.status, 200, 'no worker ever came');
    });

    it("a change of a workergroup's settings wakes it: test_workers lets the autoscaler recruit before any benchmark", async () => {
      const ep = await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'tested', min_load: 0, cold_workers: 0, min_workers: 2, max_workers: 2 });
      assert.equal(ep.status, 200, ep.text);
      const endpointId = ep.body.result as number;
      // No offer matches (the host has two GPUs): what the autoscaler wants shows as a recruit backing off, no process starts.
      const wg = await g.api('POST', '/api/v0/workergroups/', {
        endpoint_id: endpointId,
        search_params: 'num_gpus=8',
        launch_args: '--image busybox',
        test_workers: 0,
      });
      assert.equal(wg.status, 200, wg.text);
      // No worker has a benchmark and test_workers is 0: it wants none, and rests.
      await until('resting', () => resting(endpointId));
      assert.equal((await g.api('PUT', `/api/v0/workergroups/${wg.body.id as number}/`, { test_workers: 2 })).status, 200);
      await until('woken: two workers wanted', async () => (await g.store.getEndpoint(endpointId))?.statusMsg?.includes('no offer'));
      assert.equal((await g.api('DELETE', `/api/v0/endptjobs/${endpointId}/`)).status, 200);
    });

    it("it does not rest while another replica's gateway has published requests held for it", async () => {
      const d = await createDeployment(g, 'elsewhere', { min_load: 0, max_workers: 1, search_params: 'num_gpus=8' });
      await until('resting, scaled to zero', () => resting(d.endpointId));
      // Another replica holds a request for it (published as gateways publish what they hold), and an intent wakes it.
      await g.store.putGatewayPending('another-replica', d.endpointId, 1, Date.now());
      await g.store.wakeEndpoint(d.endpointId);
      await new Promise((r) => setTimeout(r, 10 * SERVERLESS_FAST.autoscaleIntervalMs));
      assert.equal(await resting(d.endpointId), false, 'passed at every tick while the request is held elsewhere');
      // That replica's word goes stale (it stopped publishing): the endpoint rests again.
      await until('resting once the other replica is silent', () => resting(d.endpointId));
      assert.equal((await g.api('DELETE', `/api/v0/deployment/${d.id}/`)).status, 200);
    });
  });
