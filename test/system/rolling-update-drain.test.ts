import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, SERVERLESS_FAST, until, WORKER_ONSTART, workersOf } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

/**
 * Vast's `update workers` on a workergroup whose workers are replaced (update-workers.ts): the outdated
 * worker is drained before it goes (worker-drain.ts). While it finishes a long request, a new worker is
 * recruited, every new request goes to the new one, the long request is answered by the old worker,
 * and only then is the old worker destroyed. A worker that is never idle (callers keep it busy) is
 * replaced all the same: routed around, it runs dry. An update cancelled mid-drain routes to the worker again.
 */
for (const ts of ONE_STORE)
  describe(`a rolling update drains each outdated worker before it replaces it (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: SERVERLESS_FAST });
    });
    after(() => g.dispose());

    let endpointId = 0;
    let workergroupId = 0;

    it('the old worker answers its request in flight, new requests go to the new worker, then the old one goes', async () => {
      const ep = await g.api('POST', '/api/v0/endptjobs/', {
        endpoint_name: 'roll',
        // One worker wanted active (perf 2): with none, the autoscaler may put the first worker aside before it is ready.
        min_load: 1,
        cold_workers: 0,
        min_workers: 1,
        max_workers: 2,
        target_util: 1,
      });
      assert.equal(ep.status, 200, ep.text);
      endpointId = ep.body.result as number;
      const wg = await g.api('POST', '/api/v0/autojobs/', {
        endpoint_name: 'roll',
        image: 'local/worker',
        onstart: WORKER_ONSTART,
        env: '-e WORKER_PERF=2 -p 8000:8000',
        search_params: 'num_gpus=1',
      });
      assert.equal(wg.status, 200, wg.text);
      workergroupId = wg.body.id as number;
      await until('a ready worker', async () => (await workersOf(g, endpointId)).find((w) => w.status === 'Ready'), 60_000);

      // Far longer than a worker takes to start, even on a busy machine: the drain must begin while it runs.
      const long = call(g, 'roll', '/long?ms=30000');
      const settled = { at: 0 };
      void long.then(() => (settled.at = Date.now()));
      // The worker that has it is the old one (on a busy machine a second worker may have got ready meanwhile).
      const old = await until('the long request at a worker', async () => (await workersOf(g, endpointId)).find((w) => w.num_requests_working === 1));
      const before = new Set((await workersOf(g, endpointId)).map((w) => w.id));
      const up = await g.api('POST', '/update_workers/', { workergroup_id: wg.body.id });
      assert.equal(up.status, 200, up.text);
      assert.ok(up.body.workers_to_update >= 1, up.text);

      const fresh = await until(
        'a new worker ready',
        async () => (await workersOf(g, endpointId)).find((w) => !before.has(w.id) && w.status === 'Ready'),
        60_000,
      );
      await until('the old worker draining', async () => {
        const e = ((await g.api('GET', '/api/v0/endptjobs/')).body.results as { id: number; status_msg: string | null }[]).find((x) => x.id === endpointId);
        return e?.status_msg?.includes(`draining worker ${old.id}`);
      });
      assert.equal(settled.at, 0, 'the new worker got ready while the long request was in flight');
      // Routed around: even with one request in it and none in the new worker, the old one gets no new request.
      const answers = await Promise.all(Array.from({ length: 6 }, (_, i) => call(g, 'roll', `/short-${i}?ms=300`)));
      assert.deepEqual(
        answers.map((a) => [a.status, a.body.worker]),
        answers.map(() => [200, fresh.id]),
      );
      assert.ok(
        (await workersOf(g, endpointId)).some((w) => w.id === old.id),
        'the old worker stays while its request runs',
      );

      const r = await long;
      assert.deepEqual([r.status, r.body.worker], [200, old.id], 'the request in flight was answered by the old worker');
      await until('every outdated worker gone', async () => !(await workersOf(g, endpointId)).some((w) => before.has(w.id)), 60_000);
      // Scale-down may since have put a new worker aside (min_workers 1): the endpoint still answers, from a new worker.
      const after = await call(g, 'roll', '/after');
      assert.equal(after.status, 200);
      assert.ok(!before.has(after.body.worker as number), 'answered by a worker the update made');
    });

    it('an update cancelled while a worker drains routes to that worker again', async () => {
      const ready = (await workersOf(g, endpointId)).filter((w) => w.status === 'Ready');
      assert.ok(ready.length >= 1);
      // Every ready worker busy for longer than the test lasts, so the drain cannot end before the cancel (a
      // replacement may have to start first); the requests end with the server.
      const longs = ready.map((_, i) => call(g, 'roll', `/busy-${i}?ms=120000`).catch(() => null));
      await until('the long requests in the workers', async () =>
        (await workersOf(g, endpointId)).every((w) => w.status !== 'Ready' || w.num_requests_working === 1),
      );
      assert.equal((await g.api('POST', '/update_workers/', { workergroup_id: workergroupId })).status, 200);
      const drained = await until(
        'a worker draining',
        async () => {
          const e = ((await g.api('GET', '/api/v0/endptjobs/')).body.results as { id: number; status_msg: string | null }[]).find((x) => x.id === endpointId);
          const m = /draining worker (\d+)/.exec(e?.status_msg ?? '');
          return m === null ? null : Number(m[1]);
        },
        60_000,
      );
      const c = await g.api('POST', '/update_workers/', { workergroup_id: workergroupId, cancel_update: true });
      assert.deepEqual([c.status, c.body.cancelled], [200, true], c.text);
      await until('the drained worker answering again', async () => {
        const answers = await Promise.all(Array.from({ length: 4 }, (_, i) => call(g, 'roll', `/again-${i}?ms=200`)));
        assert.ok(answers.every((a) => a.status === 200));
        return answers.some((a) => a.body.worker === drained);
      });
      assert.ok(
        (await workersOf(g, endpointId)).some((w) => w.id === drained && w.status === 'Ready'),
        'the worker stays',
      );
      void longs;
    });
  });
