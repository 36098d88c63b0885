import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, createDeployment, until, workersOf } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Nothing on the path of a stop or a first answer waits for a timer: with every polling interval of
 * the control plane set to an hour, an instance stop and a deployment stop are still recorded, because
 * the intent wakes the reconciler and the serverless loop, and the reconciler's record of each stopped
 * worker wakes the serverless loop again; a request held for an endpoint without a worker asks for the
 * pass that recruits or starts one, and the worker's readiness hands the request to it. (How fast is
 * the benchmark's business: `npm run bench -- serverless`.)
 */
const HOUR = 3_600_000;
const NO_POLLING = {
  observeIntervalMs: HOUR,
  reconcileIdleMs: HOUR,
  autoscaleIntervalMs: HOUR,
  sweepIntervalMs: HOUR,
  endpointWaitPollMs: HOUR,
  billingIntervalMs: HOUR,
  leaseMs: 2 * HOUR,
  workerReportStaleMs: 2 * HOUR,
  workerDirectoryMs: HOUR,
  workerReadyTimeoutMs: 2 * HOUR,
  serverlessQueueTimeoutMs: 2 * HOUR,
};

/**
 * Real time until `slow()`, then a thousand times slower: a deadline of a second set after that falls in
 * about 17 minutes.
 */
function slowableClock(): { now: () => number; slow: () => void } {
  let from: number | null = null;
  return {
    now: () => (from === null ? Date.now() : Math.floor(from + (Date.now() - from) / 1000)),
    slow: () => {
      from = Date.now();
    },
  };
}

for (const ts of TEST_STORES) {
  describe(`wake-ups instead of polling (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    const instance = async (id: number): Promise<Record<string, unknown>> => (await g.api('GET', `/api/v0/instances/${id}/`)).body.instances;
    const status = (id: number, want: string) => until(`instance ${id} ${want}`, async () => (await instance(id)).actual_status === want, 20_000);

    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: NO_POLLING });
    });
    after(async () => {
      await g?.dispose();
    });

    it('an instance starts and stops, and its GPU is offered again', async () => {
      const r = await g.api('PUT', `/api/v0/asks/${(await g.api('GET', '/api/v0/machines/')).body.machines[0].id * 1000 + 1}/`, {
        image: 'local/sleep',
        onstart: 'exec sleep 600',
        runtype: 'args',
      });
      assert.equal(r.status, 200, r.text);
      const id = r.body.new_contract as number;
      await status(id, 'running');
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
      await status(id, 'stopped');
      const offers = await g.api('POST', '/api/v0/bundles/', { num_gpus: { eq: 2 } });
      assert.equal(offers.body.offers.length, 1, 'both GPUs free again');
      await g.api('DELETE', `/api/v0/instances/${id}/`);
      // Gone before the next test recruits on this machine (its pass would otherwise find no free GPU and back off).
      await until('the instance destroyed', async () => (await g.api('GET', `/api/v0/instances/${id}/`)).status === 404, 20_000);
    });

    it('a deployment recruits its worker, then stops with it', async () => {
      const d = await createDeployment(g, 'wake', { min_load: 1, max_workers: 1 });
      const [w] = await until('a running worker', async () => {
        const ws = await workersOf(g, d.endpointId);
        return ws.length === 1 && (await instance(ws[0]?.id ?? 0)).actual_status === 'running' ? ws : null;
      });
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`)).status, 200);
      await until('deployment stopped', async () => (await g.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.gantry_status === 'stopped', 20_000);
      assert.equal((await instance(w?.id ?? 0)).actual_status, 'stopped');
    });

    it('a request to an endpoint without workers is held, a worker is created, and it answers (scale from zero)', async () => {
      const d = await createDeployment(g, 'zero', { min_load: 0, max_workers: 1, inactivity_timeout: 600 });
      assert.deepEqual(await workersOf(g, d.endpointId), [], 'no load, no worker');
      const r = await call(g, 'zero', '/first');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      const [w] = await workersOf(g, d.endpointId);
      assert.equal(r.body.worker, w?.id);
      await g.api('DELETE', `/api/v0/deployment/${d.id}/`);
    });

    it('after a stop and a start, the inactive worker starts and answers the held request', async () => {
      const d = await createDeployment(g, 'again', { min_load: 1, max_workers: 1 });
      const w = await until('a ready worker', async () => (await workersOf(g, d.endpointId)).find((x) => x.status === 'Ready'));
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`)).status, 200);
      await until('deployment stopped', async () => (await g.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.gantry_status === 'stopped', 20_000);
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/start/`)).status, 200);
      const r = await call(g, 'again', '/first');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.worker, w.id, 'the same worker, started again');
      await g.api('DELETE', `/api/v0/deployment/${d.id}/`);
    });

    it('a plain HTTP worker is probed until it answers: a request held from zero is answered', async () => {
      const r0 = await g.api('POST', '/api/v0/deployments/', {
        name: 'plain',
        image: 'local/worker',
        readiness: 'http',
        entrypoint: process.execPath,
        args: ['-e', PLAIN_SERVER],
        search_params: 'num_gpus=1',
        min_load: 0,
        max_workers: 1,
        cold_workers: 0,
        min_workers: 0,
        inactivity_timeout: 600,
      });
      assert.equal(r0.status, 200, r0.text);
      const r = await call(g, 'plain', '/hello');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.equal(r.body.plain, true);
      await g.api('DELETE', `/api/v0/deployment/${r0.body.deployment.id}/`);
    });
  });

  describe(`a drain ends with its requests (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    const clock = slowableClock();
    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: NO_POLLING, clock });
    });
    after(async () => {
      await g?.dispose();
    });

    it('a stop with finish_pending_work answers the request in flight, then stops the worker', async () => {
      const d = await createDeployment(g, 'drain', { min_load: 1, max_workers: 1 });
      await until('a ready worker', async () => (await workersOf(g, d.endpointId)).find((x) => x.status === 'Ready'));
      const held = call(g, 'drain', '/slow?ms=300');
      await until('the request in flight', async () => g.control.ctx.traffic.pending(d.endpointId).inFlight === 1, 10_000);
      // From here the drain's settle bound (STOP_SETTLE_MS, one second) would take about 17 minutes: a drain
      // that ends within the test ended because the gateway said what it holds, not at a bound.
      clock.slow();
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`, { finish_pending_work: true })).status, 200);
      const r = await held;
      assert.equal(r.status, 200, JSON.stringify(r.body));
      await until('deployment stopped', async () => (await g.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.gantry_status === 'stopped', 20_000);
    });
  });
}

/** A server that knows nothing of Gantry (readiness http): listens on $WORKER_PORT and answers JSON. */
const PLAIN_SERVER = `require('node:http').createServer((q, s) => { s.setHeader('content-type', 'application/json'); s.end('{"plain":true}'); }).listen(Number(process.env.WORKER_PORT ?? process.env.PORT));`;
