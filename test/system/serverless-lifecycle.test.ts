import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/store/store.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, createDeployment, SERVERLESS_FAST, until, workersOf, type Worker } from '../helpers/serverless.js';
import { ONE_STORE_PG, onlyOn, TEST_STORES } from '../helpers/stores.js';

const deployment = async (g: TestGantry, id: number): Promise<Record<string, any>> => (await g.api('GET', `/api/v0/deployment/${id}/`)).body.deployment;
const ready = (ws: readonly Worker[]): Worker[] => ws.filter((w) => w.status === 'Ready');

async function readyWorkers(g: TestGantry, endpointId: number, n = 1): Promise<Worker[]> {
  return until(`${n} ready worker(s)`, async () => {
    const ws = ready(await workersOf(g, endpointId));
    return ws.length >= n ? ws : null;
  });
}

/** Wait until the gateway holds `queued` requests in its queue and `inFlight` at workers (so a stop finds them there). */
async function held(g: TestGantry, id: number, queued: number, inFlight: number): Promise<void> {
  await until(`${queued} queued and ${inFlight} in flight`, async () => {
    const d = await deployment(g, id);
    return d.queued_requests === queued && d.requests_in_flight === inFlight;
  });
}

async function stopped(g: TestGantry, id: number): Promise<Record<string, any>> {
  return until('deployment stopped', async () => {
    const d = await deployment(g, id);
    return d.gantry_status === 'stopped' ? d : null;
  });
}

// Real worker processes under one control plane. The concurrent stops and starts run on each store (what
// one write decides against another is the store's); the rest on one: the store's part of them is the
// serverless store's contract suite, run on both.
for (const ts of TEST_STORES)
  describe(`serverless lifecycle (${ts.name}): scaling, stop, drain, start, failures`, { skip: ts.skip }, () => {
    const once = onlyOn(ts, ONE_STORE_PG);
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: SERVERLESS_FAST });
    });
    after(async () => {
      await g.dispose();
    });

    once('scales up under load and back to zero once idle (inactivity_timeout)', async () => {
      const d = await createDeployment(g, 'ramp', { min_load: 0, inactivity_timeout: 2, max_workers: 3 });
      assert.equal((await workersOf(g, d.endpointId)).length, 0, 'no load and min_load 0: no worker yet');
      let peak = 0;
      let running = true;
      const sampler = (async () => {
        while (running) {
          peak = Math.max(peak, (await workersOf(g, d.endpointId)).filter((w) => w.status !== 'Inactive').length);
          await new Promise((r) => setTimeout(r, 100));
        }
      })();
      const results: number[] = [];
      const deadline = Date.now() + 5000;
      await Promise.all(
        Array.from({ length: 8 }, async () => {
          while (Date.now() < deadline) results.push((await call(g, 'ramp', '/w?ms=300')).status);
        }),
      );
      running = false;
      await sampler;
      assert.ok(results.length > 0 && results.every((s) => s === 200), `every request answered: ${JSON.stringify(results)}`);
      assert.ok(peak >= 2, `workers were added under load (peak ${peak})`);
      await until('scaled to zero', async () => (await workersOf(g, d.endpointId)).length === 0, 20_000);
    });

    once('stop: queued requests get 503 at once, in-flight ones finish, workers become Inactive; start reuses them', async () => {
      const d = await createDeployment(g, 'stopme', { min_load: 1, max_workers: 1 });
      const [w] = await readyWorkers(g, d.endpointId);
      // perf 2, max_queue_time 1: the worker takes two requests, the rest wait in the gateway's queue (long
      // enough that all five are seen held at once on a loaded machine, before the first two end).
      const reqs = Array.from({ length: 5 }, () => call(g, 'stopme', '/w?ms=1500'));
      await held(g, d.id, 3, 2);
      const stop = await g.api('POST', `/api/v0/deployment/${d.id}/stop/`);
      assert.deepEqual(stop.body, { success: true, endpoint_state: 'stopped', gantry_status: 'stopping' });
      const after = await call(g, 'stopme', '/w');
      assert.equal(after.status, 503);
      assert.equal(after.body.code, 'ENDPOINT_STOPPED');
      const routed = await g.api('POST', '/route/', { endpoint: 'stopme', cost: 1 });
      assert.equal(routed.body.status, 'Stopped');
      assert.equal(routed.body.url, undefined);
      const statuses = (await Promise.all(reqs)).map((r) => r.status).sort();
      assert.deepEqual(statuses, [200, 200, 503, 503, 503], 'two were in flight and finished, three were queued and refused');
      const s = await stopped(g, d.id);
      assert.equal(s.endpoint_state, 'stopped');
      const ws = await workersOf(g, d.endpointId);
      assert.deepEqual(
        ws.map((x) => [x.id, x.status]),
        [[w?.id, 'Inactive']],
        'stopped, not destroyed',
      );
      const inst = await g.api('GET', `/api/v0/instances/${w?.id}/`);
      assert.equal(inst.body.instances.actual_status, 'stopped', 'the worker holds no compute');
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`)).status, 200, 'stop is idempotent');

      // A burst against the stopped-then-started deployment: held while the inactive worker starts, all answered.
      const start = await g.api('POST', `/api/v0/deployment/${d.id}/start/`);
      assert.deepEqual(start.body, { success: true, endpoint_state: 'active', gantry_status: 'pending' });
      const burst = await Promise.all(Array.from({ length: 10 }, () => call(g, 'stopme', '/b')));
      assert.deepEqual(
        burst.map((r) => r.status),
        Array(10).fill(200),
      );
      assert.ok(
        burst.every((r) => r.body.worker === w?.id),
        'the inactive worker was started again, not replaced',
      );
    });

    once('stop with finish_pending_work: every accepted and queued request is answered before workers stop', async () => {
      const d = await createDeployment(g, 'drainme', { min_load: 1, max_workers: 1 });
      await readyWorkers(g, d.endpointId);
      const sent = 8;
      // Long enough that a poll of the counts (slow on a loaded machine) still sees all of them in flight or queued.
      const reqs = Array.from({ length: sent }, (_, i) => call(g, 'drainme', `/d?ms=1000&i=${i}`));
      await until('all requests at the gateway', async () => {
        const x = await deployment(g, d.id);
        return x.queued_requests + x.requests_in_flight === sent;
      });
      const stop = await g.api('POST', `/api/v0/deployment/${d.id}/stop/?finish_pending_work=true`, { timeout: 30 });
      assert.equal(stop.status, 200);
      assert.equal((await call(g, 'drainme', '/late')).status, 503, 'new requests are refused while draining');
      const answers = await Promise.all(reqs);
      assert.equal(answers.filter((r) => r.status === 200).length, sent, 'count sent = count answered');
      await stopped(g, d.id);
      assert.deepEqual(
        (await workersOf(g, d.endpointId)).map((w) => w.status),
        ['Inactive'],
      );
    });

    once('a drain that runs out of time fails what is left, counts it, and still stops', async () => {
      const d = await createDeployment(g, 'slowdrain', { min_load: 1, max_workers: 1 });
      await readyWorkers(g, d.endpointId);
      const reqs = Array.from({ length: 3 }, () => call(g, 'slowdrain', '/w?ms=8000'));
      await held(g, d.id, 1, 2);
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`, { finish_pending_work: true, timeout: 1 })).status, 200);
      const answers = await Promise.all(reqs);
      assert.deepEqual(
        answers.map((r) => [r.status, r.body.code]),
        Array(3).fill([503, 'ENDPOINT_STOPPED']),
        'nothing hangs: in flight and queued requests are failed at the deadline',
      );
      const s = await stopped(g, d.id);
      assert.match(s.status_msg, /drain timed out: 3 request\(s\) failed/);
    });

    once("a second stop's timeout shortens a drain under way, never lengthens it; 0 ends it now", async () => {
      const d = await createDeployment(g, 'cutdrain', { min_load: 1, max_workers: 1 });
      await readyWorkers(g, d.endpointId);
      const reqs = Array.from({ length: 3 }, () => call(g, 'cutdrain', '/w?ms=60000'));
      await held(g, d.id, 1, 2);
      // Seconds that are no whole number of milliseconds (a 500 on PostgreSQL's BIGINT deadline once).
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`, { finish_pending_work: true, timeout: 600.0005 })).status, 200);
      for (const again of [{}, { force: true }, { timeout: 1200.0005 }]) {
        assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`, again)).status, 200);
      }
      await new Promise((r) => setTimeout(r, 500));
      assert.deepEqual(await deployment(g, d.id).then((x) => [x.gantry_status, x.queued_requests]), ['stopping', 1], 'the drain goes on');
      const cut = await g.api('POST', `/api/v0/deployment/${d.id}/stop/`, { timeout: 0 });
      assert.deepEqual(cut.body, { success: true, endpoint_state: 'stopped', gantry_status: 'stopping' });
      const answers = await Promise.all(reqs);
      assert.deepEqual(
        answers.map((r) => [r.status, r.body.code]),
        Array(3).fill([503, 'ENDPOINT_STOPPED']),
      );
      const s = await stopped(g, d.id);
      assert.match(s.status_msg, /drain timed out: 3 request\(s\) failed/);
    });

    once('a plain stop that ends a request at its worker says so: 503 ENDPOINT_STOPPED, not a worker failure', async () => {
      const d = await createDeployment(g, 'cutme', { min_load: 1, max_workers: 1 });
      await readyWorkers(g, d.endpointId);
      const probe = await call(g, 'cutme', '/pid');
      const pending = call(g, 'cutme', '/slow?ms=30000');
      await held(g, d.id, 0, 1);
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`)).status, 200);
      // The stop's kill after its grace, without waiting the grace out.
      process.kill(probe.body.pid as number, 'SIGKILL');
      const r = await pending;
      assert.equal(r.status, 503);
      assert.equal(r.body.code, 'ENDPOINT_STOPPED');
      assert.match(String(r.body.msg), /stopped while this request was at its worker; it may have been partly processed/);
      await stopped(g, d.id);
    });

    once('a workergroup delete that finds its deployment only as it deletes (made meanwhile) leaves its workers', async () => {
      const d = await createDeployment(g, 'overtaken', { min_load: 1, max_workers: 1 });
      const [w] = await readyWorkers(g, d.endpointId);
      // Stopped: a delete retires the workers of a stopped endpoint at once (a live one drains them in its loop).
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`)).status, 200);
      await stopped(g, d.id);
      const groups = (await g.api('GET', '/api/v0/autojobs/')).body.results as { id: number; endpoint_id: number }[];
      const group = groups.find((x) => x.endpoint_id === d.endpointId)!.id;
      // The call's own look finds no deployment, as when one is made between that look and the delete.
      const real = g.control.ctx.store;
      const ctx = g.control.ctx as { store: Store };
      ctx.store = new Proxy({} as Store, {
        get: (_, k) => {
          if (k === 'findDeploymentByEndpoint') return async (id: number) => (id === d.endpointId ? undefined : real.findDeploymentByEndpoint(id));
          const v = Reflect.get(real, k) as unknown;
          return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(real) : v;
        },
      });
      let gone: { status: number; body: any };
      try {
        gone = await g.api('DELETE', `/api/v0/autojobs/${group}/`);
      } finally {
        ctx.store = real;
      }
      assert.equal(gone.status, 409, JSON.stringify(gone.body));
      assert.equal(gone.body.code, 'DEPLOYMENT_MANAGED');
      const inst = (await g.api('GET', `/api/v0/instances/${w!.id}/`)).body.instances;
      assert.deepEqual([inst.intended_status, inst.actual_status], ['stopped', 'stopped'], 'its worker was not retired');
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/start/`)).status, 200);
      const again = await call(g, 'overtaken', '/x');
      assert.deepEqual([again.status, again.body.worker], [200, w!.id], 'the deployment starts its own worker again');
      // Its GPU is given back for the tests after this one (four GPUs for all of them).
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`)).status, 200);
      await stopped(g, d.id);
    });

    once('kill -9 of a worker mid-request: a clear 502, then the worker is replaced', async () => {
      const d = await createDeployment(g, 'killme', { min_load: 1, max_workers: 1 });
      const [w] = await readyWorkers(g, d.endpointId);
      const probe = await call(g, 'killme', '/pid');
      const pending = call(g, 'killme', '/slow?ms=10000');
      await held(g, d.id, 0, 1);
      process.kill(probe.body.pid as number, 'SIGKILL');
      const r = await pending;
      assert.equal(r.status, 502);
      assert.equal(r.body.code, 'WORKER_FAILED');
      assert.equal(r.headers.get('retry-after'), '1');
      const [replacement] = await until('a new worker', async () => {
        const ws = ready(await workersOf(g, d.endpointId));
        return ws.length > 0 && ws[0]?.id !== w?.id ? ws : null;
      });
      assert.notEqual(replacement?.id, w?.id);
      assert.equal((await call(g, 'killme', '/again')).status, 200);
    });

    it('50 concurrent stops and starts end in one consistent state without orphaned or duplicated workers', async () => {
      const d = await createDeployment(g, 'flip', { min_load: 1, max_workers: 1 });
      const [w] = await readyWorkers(g, d.endpointId);
      const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => g.api('POST', `/api/v0/deployment/${d.id}/${i % 2 === 0 ? 'stop' : 'start'}/`)));
      for (const a of answers) assert.ok(a.status === 200 || (a.status === 409 && a.body.code === 'ILLEGAL_TRANSITION'), `${a.status} ${a.text}`);
      await g.api('POST', `/api/v0/deployment/${d.id}/stop/`);
      await stopped(g, d.id);
      const ws = await workersOf(g, d.endpointId);
      assert.deepEqual(
        ws.map((x) => [x.id, x.status]),
        [[w?.id, 'Inactive']],
      );
      assert.notEqual((await g.runtime?.inspect(w?.id as number))?.state, 'running', 'no workload runs for the stopped worker');
      const all = (await g.api('GET', '/api/v0/instances/')).body.instances.filter((i: { label: string | null }) => i.label === 'flip worker');
      assert.equal(all.length, 1, 'exactly one worker instance exists');
      await g.api('POST', `/api/v0/deployment/${d.id}/start/`);
      const again = await readyWorkers(g, d.endpointId);
      assert.deepEqual(
        again.map((x) => x.id),
        [w?.id],
      );
    });

    once('force: a deployment other endpoints route to is stopped only with force=true', async () => {
      const d = await createDeployment(g, 'target', { min_load: 1, max_workers: 1 });
      await readyWorkers(g, d.endpointId);
      const alias = await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'target-alias', alias_of: 'target' });
      assert.equal(alias.status, 200, alias.text);
      const via = await call(g, 'target-alias', '/via');
      assert.equal(via.status, 200);
      const refused = await g.api('POST', `/api/v0/deployment/${d.id}/stop/`, { force: false });
      assert.equal(refused.status, 409);
      assert.equal(refused.body.code, 'ENDPOINT_REFERENCED');
      assert.match(refused.body.msg, /target-alias/);
      assert.equal((await deployment(g, d.id)).endpoint_state, 'active', 'nothing changed');
      const forced = await g.api('POST', `/api/v0/deployment/${d.id}/stop/?force=true`);
      assert.equal(forced.status, 200);
      await stopped(g, d.id);
    });

    once('answers bad requests with Vast error bodies', async () => {
      const missing = await g.api('GET', '/api/v0/deployment/99999/');
      assert.equal(missing.status, 404);
      assert.equal(missing.body.success, false);
      assert.equal(missing.body.code, 'DEPLOYMENT_NOT_FOUND');
      assert.equal((await g.api('POST', '/api/v0/deployment/99999/stop/')).status, 404);
      const anon = await g.api('GET', '/api/v0/deployments/', undefined, { key: null });
      assert.equal(anon.status, 401);
      assert.equal(anon.body.success, false);
      const bad = await g.api('POST', '/api/v0/deployments/', { name: 'x', target_util: 2 });
      assert.equal(bad.status, 400);
      assert.match(bad.body.msg, /target_util/);
      assert.equal((await g.api('POST', '/api/v0/deployments/', { name: 'y', search_params: 'num_gpus' })).status, 400);
      assert.equal((await g.api('POST', '/api/v0/deployments/', { name: 'bad name!' })).status, 400);
      assert.equal((await g.api('POST', '/api/v0/deployment/1/stop/', { timeout: -1 })).status, 400);
      assert.equal((await g.api('POST', '/worker_status/', { id: 1, mtoken: 'nope' })).status, 401);
      const list = await g.api('GET', '/api/v0/deployments/');
      assert.ok(list.body.deployments.length >= 1);
    });
  });
