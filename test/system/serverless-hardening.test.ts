import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, createDeployment, SERVERLESS_FAST, until, WORKER_ONSTART, workersOf, type Worker } from '../helpers/serverless.js';
import { ONE_STORE_PG } from '../helpers/stores.js';

const deployment = async (g: TestGantry, id: number): Promise<Record<string, any>> => (await g.api('GET', `/api/v0/deployment/${id}/`)).body.deployment;

async function readyWorker(g: TestGantry, endpointId: number): Promise<Worker> {
  return until('a ready worker', async () => (await workersOf(g, endpointId)).find((w) => w.status === 'Ready'));
}

async function stopped(g: TestGantry, id: number): Promise<Record<string, any>> {
  return until('deployment stopped', async () => {
    const d = await deployment(g, id);
    return d.gantry_status === 'stopped' ? d : null;
  });
}

/** An endpoint of Vast's own kind (no deployment) with one workergroup of one worker, min_load 1. */
async function plainEndpoint(g: TestGantry, name: string): Promise<{ endpointId: number; wgId: number }> {
  const ep = await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: name, min_load: 1, cold_workers: 0, min_workers: 0, max_workers: 1, target_util: 1 });
  assert.equal(ep.status, 200, ep.text);
  const wg = await g.api('POST', '/api/v0/autojobs/', {
    endpoint_name: name,
    image: 'local/worker',
    onstart: WORKER_ONSTART,
    env: '-e WORKER_PERF=2 -p 8000:8000',
    search_params: 'num_gpus=1',
  });
  assert.equal(wg.status, 200, wg.text);
  return { endpointId: ep.body.result as number, wgId: wg.body.id as number };
}

// Issue 14's serverless findings, each against real worker processes on each store.
for (const ts of ONE_STORE_PG)
  describe(`serverless hardening (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      // workerFailuresBeforeDead 0: a workergroup whose workers all fail does not mark the endpoint dead here.
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, workerFailuresBeforeDead: 0 } });
    });
    after(async () => {
      await g.dispose();
    });

    it('a deployment create refused by validation writes no endpoint row', async () => {
      const good = await createDeployment(g, 'valid-first', { min_load: 0 });
      for (const bad of [{ launch_args: '--bogus x' }, { launch_args: '--disk' }, { disk: -3 }]) {
        const r = await g.api('POST', '/api/v0/deployments/', { name: 'refused', image: 'local/worker', search_params: 'num_gpus=1', ...bad });
        assert.equal(r.status, 400, `${JSON.stringify(bad)}: ${r.text}`);
      }
      // Endpoint ids are handed out in order: a refused create that wrote a row (even one marked deleted) took the next one.
      assert.equal(await g.store.getEndpoint(good.endpointId + 1), undefined, 'no endpoint row, deleted or not');
      assert.equal(await g.store.findEndpointByName(1, 'refused'), undefined);
      const next = await createDeployment(g, 'valid-after', { min_load: 0 });
      assert.equal(next.endpointId, good.endpointId + 1);
    });

    it("a workergroup's scaling fields (Vast's clients send them) are checked as an endpoint's and not applied", async () => {
      const d = await createDeployment(g, 'wg-scaling', { min_load: 0 });
      const before = (await g.api('GET', `/api/v0/endptjobs/`)).body.results as Record<string, unknown>[];
      const ep = before.find((e) => e.id === d.endpointId);
      const wgs = (await g.api('GET', '/api/v0/workergroups/')).body.results as Record<string, unknown>[];
      const wgId = wgs.find((w) => w.endpoint_id === d.endpointId)?.id as number;
      for (const bad of [{ min_load: 'abc' }, { target_util: {} }, { cold_mult: [1] }, { min_load: -1e9 }, { cold_workers: 1.5 }]) {
        for (const [method, path] of [
          ['POST', '/api/v0/workergroups/'],
          ['PUT', `/api/v0/workergroups/${wgId}/`],
        ] as const) {
          const r = await g.api(method, path, { endpoint_id: d.endpointId, image: 'local/worker', ...bad });
          assert.equal(r.status, 400, `${method} ${JSON.stringify(bad)}: ${r.text}`);
          assert.equal(r.body.success, false);
        }
      }
      // What the vastai CLI sends by default is taken, and leaves the endpoint's own values as they were.
      const ok = await g.api('PUT', `/api/v0/workergroups/${wgId}/`, { min_load: 0, target_util: 0.9, cold_mult: 2.5, cold_workers: 5 });
      assert.equal(ok.status, 200, ok.text);
      const after = ((await g.api('GET', `/api/v0/endptjobs/`)).body.results as Record<string, unknown>[]).find((e) => e.id === d.endpointId);
      // The scaling parameters, not the status (the endpoint's first pass may come in between).
      const scaling = (e: Record<string, unknown> | undefined): unknown[] =>
        ['min_load', 'target_util', 'cold_mult', 'cold_workers', 'min_workers', 'max_workers'].map((k) => e?.[k]);
      assert.deepEqual(scaling(after), scaling(ep));
    });

    it('a workergroup delete drains its workers: what they hold is answered, new requests get 503 NO_WORKERGROUP at once', async () => {
      const { endpointId, wgId } = await plainEndpoint(g, 'wg-delete');
      const w = await readyWorker(g, endpointId);
      const held = call(g, 'wg-delete', '/w?ms=2000');
      await until('the request at its worker', async () => (await workersOf(g, endpointId)).some((x) => x.num_requests_working === 1));
      const del = await g.api('DELETE', `/api/v0/workergroups/${wgId}/`);
      assert.deepEqual([del.status, del.body.deleted_workers], [200, [w.id]], del.text);
      // Its only workergroup gone: nothing can serve a new request, which is refused now, not after the queue timeout.
      const refused = await call(g, 'wg-delete', '/w');
      assert.deepEqual([refused.status, refused.body.success, refused.body.code], [503, false, 'NO_WORKERGROUP']);
      const r = await held;
      assert.equal(r.status, 200, `the request in flight finished on its worker: ${JSON.stringify(r.body)}`);
      await until('the drained worker destroyed', async () => (await workersOf(g, endpointId)).length === 0);
    });

    it('the workers of a workergroup deleted while its endpoint stops are destroyed once the stop has ended', async () => {
      const { endpointId, wgId } = await plainEndpoint(g, 'wg-stopping');
      await readyWorker(g, endpointId);
      const stop = await g.api('PUT', `/api/v0/endptjobs/${endpointId}/`, { endpoint_state: 'stopped' });
      assert.equal(stop.status, 200, stop.text);
      assert.equal((await g.api('DELETE', `/api/v0/workergroups/${wgId}/`)).status, 200);
      // A plain stop of an idle worker ends before its drain would: stopped, it stayed (paying for its disk).
      await until('the stopped worker destroyed', async () => (await workersOf(g, endpointId)).length === 0, 20_000);
    });

    it('a worker whose command exits at once is replaced, not kept loading; scale-down keeps a ready worker', async () => {
      const ep = await g.api('POST', '/api/v0/endptjobs/', {
        endpoint_name: 'mixed',
        min_load: 0,
        cold_workers: 0,
        min_workers: 0,
        max_workers: 2,
        target_util: 1,
      });
      assert.equal(ep.status, 200, ep.text);
      const endpointId = ep.body.result as number;
      const group = async (onstart: string): Promise<number> => {
        const wg = await g.api('POST', '/api/v0/autojobs/', {
          endpoint_name: 'mixed',
          image: 'local/worker',
          onstart,
          env: '-e WORKER_PERF=2 -p 8000:8000',
          search_params: 'num_gpus=1',
        });
        assert.equal(wg.status, 200, wg.text);
        return wg.body.id as number;
      };
      // As a worker that finds its port taken: it prints why and exits with 1 while the instance runs on.
      const bad = await group('echo "Error: listen EADDRINUSE" >&2; exit 1');
      assert.equal((await g.api('PUT', `/api/v0/endptjobs/${endpointId}/`, { min_load: 1 })).status, 200);
      const workerGroup = (w: Worker): number => (w as unknown as { workergroup_id: number }).workergroup_id;
      const first = await until('a worker of the failing group', async () => (await workersOf(g, endpointId)).find((w) => workerGroup(w) === bad));
      // Before: it stayed Model Loading for good (instance running, "onstart exited with code 1").
      await until(
        'the failing worker in error and replaced',
        async () => {
          const ws = await workersOf(g, endpointId);
          const w = ws.find((x) => x.id === first.id);
          if (w?.status === 'Error') assert.match((w as unknown as { error_msg: string }).error_msg, /exited with code 1/);
          return w === undefined || w.status === 'Error' || w.status === 'Destroying' ? ws : null;
        },
        60_000,
      );
      // A good workergroup beside it; two workers wanted, one active.
      const good = await group(WORKER_ONSTART);
      assert.equal((await g.api('PUT', `/api/v0/endptjobs/${endpointId}/`, { min_workers: 2 })).status, 200);
      const ready = await readyWorker(g, endpointId);
      assert.equal(workerGroup(ready), good);
      // min_workers 2 with one active wanted: failing workers are replaced and scale-down stops one
      // worker (it waits as Inactive), never the ready one for one that is not ready.
      const failed = new Set<number>([first.id]);
      let seen = '';
      // Another worker seen ready: from then on scale-down may stop either ready one (the lower perf, the newer).
      let otherReady = false;
      await until(
        'scale-down stopped a worker, or failing workers were replaced twice more',
        async () => {
          const ws = await workersOf(g, endpointId);
          seen = JSON.stringify(ws.map((w) => [w.id, workerGroup(w), w.status]));
          const r = ws.find((w) => w.id === ready.id);
          otherReady ||= ws.some((w) => w.id !== ready.id && w.status === 'Ready');
          if (!otherReady) assert.equal(r?.status, 'Ready', `the ready worker is kept: ${JSON.stringify(ws.map((w) => [w.id, w.status]))}`);
          for (const w of ws) if (workerGroup(w) === bad && (w.status === 'Error' || w.status === 'Destroying')) failed.add(w.id);
          return failed.size >= 3 || ws.some((w) => w.status === 'Inactive');
        },
        60_000,
      ).catch((err: Error) => assert.fail(`${err.message}; last seen ${seen}`));
      assert.equal((await call(g, 'mixed', '/after-scale-down')).status, 200);
      await g.api('DELETE', `/api/v0/endptjobs/${endpointId}/`);
      await until('the mixed workers gone', async () =>
        (await g.api('GET', '/api/v0/instances/')).body.instances.every((i: { label: string | null }) => i.label !== 'mixed worker'),
      );
    });

    it('an inactive worker whose GPU another tenant took does not block scale-up: a worker is recruited on a free GPU', async () => {
      const d = await createDeployment(g, 'stranded', { min_load: 1, max_workers: 1 });
      const w = await readyWorker(g, d.endpointId);
      const gpu = ((await g.api('GET', `/api/v0/instances/${w.id}/`)).body.instances.gpu_indices as number[])[0];
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`)).status, 200);
      await stopped(g, d.id);
      // Another tenant rents one-GPU offers until it holds the stopped worker's GPU, then gives back the others.
      const bob = (await g.api('POST', '/api/v0/users/', { username: 'bob-stranded', credit: 100 })).body.api_key as string;
      const rented: number[] = [];
      let holder: number | null = null;
      for (let i = 0; i < 4 && holder === null; i++) {
        const offers = (await g.api('POST', '/api/v0/bundles/', { num_gpus: { eq: 1 } }, { key: bob })).body.offers as { id: number }[];
        assert.ok(offers.length > 0, 'a free one-GPU offer');
        const r = await g.api('PUT', `/api/v0/asks/${(offers[0] as { id: number }).id}/`, { onstart: 'sleep 300' }, { key: bob });
        assert.equal(r.status, 200, r.text);
        const id = r.body.new_contract as number;
        rented.push(id);
        const gpus = (await g.api('GET', `/api/v0/instances/${id}/`, undefined, { key: bob })).body.instances.gpu_indices as number[];
        if (gpus.includes(gpu as number)) holder = id;
      }
      assert.notEqual(holder, null, `bob holds GPU ${gpu}`);
      for (const id of rented.filter((x) => x !== holder)) {
        assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`, undefined, { key: bob })).status, 200);
        await until('the spare rental gone', async () => (await g.api('GET', `/api/v0/instances/${id}/`, undefined, { key: bob })).status === 404);
      }
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/start/`)).status, 200);
      const r = await call(g, 'stranded', '/after-start');
      assert.equal(r.status, 200, JSON.stringify(r.body));
      assert.notEqual(r.body.worker, w.id, 'served by a new worker on a free GPU');
      // max_workers 1 leaves no room for it beside its replacement: the stranded worker is destroyed.
      await until('the stranded worker destroyed', async () => !(await workersOf(g, d.endpointId)).some((x) => x.id === w.id), 60_000);
      await g.api('DELETE', `/api/v0/instances/${holder as number}/`, undefined, { key: bob });
    });
  });

// The drain deadline acts when it falls. The periodic pass is ten minutes apart here, so only the
// wake-up at the deadline can fail the held request and finish the stop.
for (const ts of ONE_STORE_PG)
  describe(`serverless drain deadline (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '1x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, autoscaleIntervalMs: 600_000 } });
    });
    after(async () => {
      await g.dispose();
    });

    it('a drain timeout fails what is held at its deadline, not at the next periodic pass', async () => {
      const d = await createDeployment(g, 'deadline', { min_load: 1, max_workers: 1 });
      await readyWorker(g, d.endpointId);
      const pending = call(g, 'deadline', '/w?ms=120000');
      await until('the request in flight', async () => (await deployment(g, d.id)).requests_in_flight === 1);
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`, { finish_pending_work: true, timeout: 1 })).status, 200);
      const r = await pending;
      assert.deepEqual([r.status, r.body.code], [503, 'ENDPOINT_STOPPED'], 'the in-flight request was failed at the drain deadline');
      const s = await stopped(g, d.id);
      assert.match(s.status_msg, /drain timed out: 1 request\(s\) failed/);
      assert.deepEqual(
        (await workersOf(g, d.endpointId)).map((w) => w.status),
        ['Inactive'],
      );
    });
  });
