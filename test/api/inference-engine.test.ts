import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Principal } from '../../src/control/principal.js';
import type { StopRequest } from '../../src/control/serverless/change-endpoint.js';
import type { DeploymentView } from '../../src/control/serverless/deployments.js';
import { GantryError } from '../../src/domain/errors.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until, WORKER_ONSTART } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

/** How one proxied request ended: the worker's status, or the engine's error code. */
type Ended = number | string;

const ES_STOP: StopRequest = { finishPendingWork: false, force: false, timeoutMs: null, rejectQueued: true };
const WAIT = { timeoutMs: 60_000 };

/**
 * What the Elasticsearch dialect builds on: one request at a time per worker, a bounded queue,
 * request deadlines, inference counters and Elasticsearch's stop, through the real gateway to
 * real worker processes (test/fixtures/serverless-worker.ts; `?ms=` makes it slow).
 */
for (const ts of ONE_STORE)
  describe(`engine for Elasticsearch deployments (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let admin: Principal;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: SERVERLESS_FAST });
      admin = await g.control.authenticate(g.adminKey);
    });
    after(async () => {
      await g.dispose();
    });

    const sc = () => g.control.serverless;

    async function deploy(name: string, queueCapacity: number): Promise<DeploymentView> {
      return sc().createDeployment(admin, {
        name,
        tag: null,
        params: { minLoad: 1, minWorkers: 1, maxWorkers: 1, coldWorkers: 0, targetUtil: 1 },
        template: { image: 'local/worker', env: { WORKER_PERF: '100' }, onstart: WORKER_ONSTART, args: null, diskGb: null },
        placement: null,
        launchArgs: null,
        gpuRamGb: null,
        testWorkers: null,
        limits: { maxConcurrentPerWorker: 1, queueCapacity },
      });
    }

    async function ready(d: DeploymentView): Promise<void> {
      await until('a ready worker', async () => (await sc().showDeployment(admin, d.deployment.id)).workers.some((w) => w.phase === 'ready'), 60_000);
    }

    function send(d: DeploymentView, path: string, timeoutMs?: number): Promise<Ended> {
      const ref = { uid: d.deployment.uid, resourceGroup: 'default' };
      return g.gateway.proxyDeployment(admin, ref, { method: 'POST', path, headers: {}, body: null, contentLength: null, cost: 1, timeoutMs }).then(
        async (res) => {
          await res.body.arrayBuffer();
          return res.status;
        },
        (e: unknown) => (e instanceof GantryError ? e.code : String(e)),
      );
    }

    async function held(d: DeploymentView, queued: number, inFlight: number): Promise<void> {
      await until(`${queued} queued, ${inFlight} in flight`, async () => {
        const p = g.control.ctx.traffic.pending(d.endpoint.id);
        return p.queued === queued && p.inFlight === inFlight;
      });
    }

    const count = (xs: readonly Ended[], x: Ended): number => xs.filter((y) => y === x).length;

    it('stop by Elasticsearch rules: the request in flight answers, the 29 queued are rejected and counted; workers at rest before it returns', async () => {
      const d = await deploy('es-stop', 100);
      await ready(d);
      const reqs = Array.from({ length: 30 }, (_, i) => send(d, `/infer?ms=300&i=${i}`));
      await held(d, 29, 1);
      const out = await sc().stopDeploymentAndWait(admin, d.deployment.id, ES_STOP, WAIT);
      const ended = await Promise.all(reqs);
      assert.equal(count(ended, 200), 1, JSON.stringify(ended));
      assert.equal(count(ended, 'REQUEST_REJECTED_BY_STOP'), 29);
      assert.deepEqual([out.drained, out.failed, out.rejected, out.endpoint.status], [1, 0, 29, 'stopped']);
      const workers = (await sc().showDeployment(admin, d.deployment.id)).workers;
      assert.ok(workers.length > 0 && workers.every((w) => ['stopped', 'exited'].includes(w.instance.status)), 'every worker at rest when the stop returned');
      const stats = await until('the answer counted', async () => {
        const x = await sc().inferenceStats(admin, d.deployment.id);
        return x.deployment.inferenceCount === 1 ? x : null;
      });
      assert.deepEqual(
        [stats.deployment.inferenceCount, stats.deployment.rejectedExecutionCount, stats.deployment.errorCount, stats.deployment.pendingRequests],
        [1, 29, 0, 0],
      );
      const [w] = stats.workers;
      assert.deepEqual([w?.counters.inferenceCount, w?.counters.rejectedExecutionCount, w?.counters.pendingRequests], [1, 0, 0]);
      assert.ok((w?.counters.averageInferenceTimeMs ?? 0) >= 250, 'the slow request took its time');
      assert.equal(stats.deployment.throughputLastMinute, 1);
      assert.equal(stats.deployment.peakThroughputPerMinute, 1);
      assert.equal(await send(d, '/late'), 'ENDPOINT_STOPPED', 'a stopped deployment takes no request');

      // finish_pending_work: every accepted request is answered.
      await sc().startDeployment(admin, d.deployment.id);
      await ready(d);
      // The first takes long enough to be still in flight when the stop begins (it counts as drained only then).
      const all = Array.from({ length: 30 }, (_, i) => send(d, `/infer?ms=${i === 0 ? 2000 : 50}&i=${i}`));
      await held(d, 29, 1);
      const drained = await sc().stopDeploymentAndWait(admin, d.deployment.id, { ...ES_STOP, finishPendingWork: true }, WAIT);
      assert.deepEqual(await Promise.all(all), Array(30).fill(200));
      assert.deepEqual([drained.drained, drained.failed, drained.rejected], [30, 0, 0]);

      // finish_pending_work bounded by 3 s (30 × 300 ms need 9 s; 3 s leaves a starved worker time for its first answer): what is
      // not answered by then fails as Elasticsearch's stop does: queued ones rejected (429), the one in flight stopped; all counted.
      await sc().startDeployment(admin, d.deployment.id);
      await ready(d);
      const some = Array.from({ length: 30 }, (_, i) => send(d, `/infer?ms=300&i=${i}`));
      await held(d, 29, 1);
      const cut = await sc().stopDeploymentAndWait(admin, d.deployment.id, { ...ES_STOP, finishPendingWork: true, timeoutMs: 3_000 }, WAIT);
      const got = await Promise.all(some);
      const answered = count(got, 200);
      assert.ok(answered >= 1 && answered < 30, JSON.stringify(got));
      const [stopped, rejected] = [count(got, 'ENDPOINT_STOPPED'), count(got, 'REQUEST_REJECTED_BY_STOP')];
      assert.ok(rejected >= 1 && stopped <= 1, JSON.stringify(got));
      assert.equal(stopped + rejected, 30 - answered, JSON.stringify(got));
      assert.deepEqual([cut.drained, cut.failed, cut.rejected, cut.drained + cut.failed + cut.rejected], [answered, stopped, rejected, 30]);
      const counters = g.control.ctx.traffic.stats(d.endpoint.id).deployment;
      assert.ok(counters.rejectedExecutionCount >= rejected, 'the rejected ones count as Elasticsearch counts them');
    });

    it('a full queue refuses at once with QUEUE_FULL, a deadline ends with INFERENCE_TIMEOUT; both counted; stop then delete frees the name', async () => {
      const d = await deploy('es-queue', 2);
      await ready(d);
      const first = send(d, '/infer?ms=1500');
      await held(d, 0, 1);
      const queued = [send(d, '/infer?ms=10'), send(d, '/infer?ms=10')];
      await held(d, 2, 1);
      assert.equal(await send(d, '/infer'), 'QUEUE_FULL');
      assert.equal(await send(d, '/infer'), 'QUEUE_FULL');
      assert.equal(await send(d, '/infer', 100), 'QUEUE_FULL', 'full: refused before its deadline matters');
      assert.deepEqual(await Promise.all([first, ...queued]), [200, 200, 200]);
      assert.equal(await send(d, '/infer?ms=2000', 200), 'INFERENCE_TIMEOUT', 'timed out at the worker');
      const slow = send(d, '/infer?ms=1500');
      await held(d, 0, 1);
      assert.equal(await send(d, '/infer', 200), 'INFERENCE_TIMEOUT', 'timed out in the queue');
      assert.equal(await slow, 200);
      // An answer is counted when its body closes, just after the caller read it.
      const s = await until('the last answer counted', async () => {
        const x = await sc().inferenceStats(admin, d.deployment.id);
        return x.deployment.inferenceCount === 4 ? x : null;
      });
      assert.deepEqual([s.deployment.inferenceCount, s.deployment.rejectedExecutionCount, s.deployment.timeoutCount, s.deployment.errorCount], [4, 3, 2, 0]);
      const [w] = s.workers;
      assert.deepEqual([w?.counters.inferenceCount, w?.counters.timeoutCount, w?.counters.rejectedExecutionCount], [4, 1, 0]);
      assert.ok(w?.counters.startTime !== null && w?.counters.lastAccess !== null);

      const out = await sc().stopDeploymentAndWait(admin, d.deployment.id, ES_STOP, { ...WAIT, delete: true });
      assert.equal(out.endpoint.status, 'deleted');
      const instances = await g.control.ctx.store.listWorkers(d.endpoint.id);
      assert.equal(instances.length, 0, 'its workers are destroyed');
      // Its traffic record (counters, queue, load) was kept for good: the gateway forgets a deleted endpoint.
      await until('the gateway forgot it', async () => g.control.ctx.traffic.stats(d.endpoint.id).deployment.startTime === null);
      const again = await deploy('es-queue', 2);
      assert.notEqual(again.deployment.id, d.deployment.id, 'the name is free at once');
      await sc().stopDeploymentAndWait(admin, again.deployment.id, ES_STOP, { ...WAIT, delete: true });
    });
  });
