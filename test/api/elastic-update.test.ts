import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errors, type Client } from '@elastic/elasticsearch';
import { tinyClassifier } from '../fixtures/onnx/models.js';
import { esClient, esRaw } from '../helpers/elastic.js';
import { CLASSIFICATION, uploadModel } from '../helpers/elastic-models.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { ONE_STORE, TEST_STORES } from '../helpers/stores.js';

const classifier = tinyClassifier({ labels: 3, hidden: 8, seed: 52 });
const NOT_BOTH = '[number_of_allocations] cannot be set if adaptive allocations is enabled';

/** `_update` of adaptive allocations as Elasticsearch's, the validation `_start` and `_update` share, cache_size as a byte size, the stop's pipeline check by deployment id. */
for (const ts of ONE_STORE)
  describe(`Elasticsearch deployment update and start checks (${ts.name})`, { skip: ts.skip, timeout: 600_000 }, () => {
    let g: TestGantry;
    let c: Client;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: SERVERLESS_FAST });
      c = esClient(g);
      await uploadModel(c, 'm', classifier, CLASSIFICATION);
    });
    after(async () => {
      await g.dispose();
    });

    const post = (path: string, body?: unknown) =>
      esRaw(g, 'POST', path, body === undefined ? {} : { body: JSON.stringify(body), contentType: 'application/json' });
    const stats = async (id: string) =>
      (await c.ml.getTrainedModelsStats({ model_id: 'm' })).trained_model_stats.find((x) => x.deployment_stats?.deployment_id === id)?.deployment_stats;
    const bounds = async (id: string) => {
      const d = await g.control.ml.deployment(await g.control.authenticate(g.adminKey), id);
      return [d?.view.endpoint.params.minWorkers, d?.view.endpoint.params.maxWorkers];
    };
    const started = (id: string) => until(`${id} started`, async () => (await stats(id))?.state === 'started', 60_000);

    it('refuses number_of_allocations with adaptive allocations enabled on _start, in the query or the body', async () => {
      const adaptive = { adaptive_allocations: { enabled: true, max_number_of_allocations: 2 } };
      for (const [q, body] of [
        ['number_of_allocations=2', adaptive],
        ['', { ...adaptive, number_of_allocations: 1 }],
      ] as const) {
        const r = await post(`/_ml/trained_models/m/deployment/_start?deployment_id=both&wait_for=starting&${q}`, body);
        assert.equal(r.status, 400, r.text);
        assert.equal(r.body.error.reason, NOT_BOTH);
      }
      await assert.rejects(
        c.ml.startTrainedModelDeployment({ model_id: 'm', deployment_id: 'both', number_of_allocations: 2, adaptive_allocations: { enabled: true } }),
        (e: unknown) => e instanceof errors.ResponseError && e.meta.statusCode === 400,
      );
      assert.equal(await stats('both'), undefined, 'nothing started');
    });

    it('_update merges, stores and shows adaptive settings; refuses a number while they are enabled; disabling keeps a fixed count', async () => {
      const s = await c.ml.startTrainedModelDeployment({
        model_id: 'm',
        deployment_id: 'ad',
        wait_for: 'started',
        timeout: '120s',
        adaptive_allocations: { enabled: true, min_number_of_allocations: 1, max_number_of_allocations: 2 },
      });
      assert.deepEqual(s.assignment.adaptive_allocations, { enabled: true, min_number_of_allocations: 1, max_number_of_allocations: 2 });
      await started('ad');
      const num = await post('/_ml/trained_models/ad/deployment/_update', { number_of_allocations: 2 });
      assert.equal(num.status, 400, num.text);
      assert.equal(num.body.error.reason, NOT_BOTH);
      const both = await post('/_ml/trained_models/ad/deployment/_update', {
        number_of_allocations: 2,
        adaptive_allocations: { max_number_of_allocations: 3 },
      });
      assert.equal(both.status, 400, 'still enabled after the merge');
      // Only max given: enabled and min are kept.
      const wider = await post('/_ml/trained_models/ad/deployment/_update', { adaptive_allocations: { max_number_of_allocations: 3 } });
      assert.equal(wider.status, 200, wider.text);
      assert.deepEqual(wider.body.assignment.adaptive_allocations, { enabled: true, min_number_of_allocations: 1, max_number_of_allocations: 3 });
      assert.deepEqual(await bounds('ad'), [1, 3]);
      // Disabled: stored and shown as such, the deployment keeps a fixed number (what it had).
      const off = await post('/_ml/trained_models/ad/deployment/_update', { adaptive_allocations: { enabled: false } });
      assert.equal(off.status, 200, off.text);
      assert.deepEqual(off.body.assignment.adaptive_allocations, { enabled: false, min_number_of_allocations: 1, max_number_of_allocations: 3 });
      // What it had: 1 on a quiet machine; 2 where a slow worker's report went stale and a second one was started.
      const kept = Number(off.body.assignment.task_parameters.number_of_allocations);
      assert.ok(kept >= 1 && kept <= 3, `kept ${kept}`);
      assert.deepEqual(await bounds('ad'), [kept, kept]);
      assert.deepEqual((await stats('ad'))?.adaptive_allocations, { enabled: false, min_number_of_allocations: 1, max_number_of_allocations: 3 });
      // Now a number is taken, as on any fixed deployment.
      const two = await c.ml.updateTrainedModelDeployment({ model_id: 'ad', number_of_allocations: 2 });
      assert.equal(two.assignment.task_parameters.number_of_allocations, 2);
      assert.deepEqual(await bounds('ad'), [2, 2]);
      assert.equal((await stats('ad'))?.number_of_allocations, 2);
      // Enabled again with a null min (cleared): the autoscaler's bounds follow, the settings show what is stored.
      const on = await post('/_ml/trained_models/ad/deployment/_update', { adaptive_allocations: { enabled: true, min_number_of_allocations: null } });
      assert.equal(on.status, 200, on.text);
      assert.deepEqual(on.body.assignment.adaptive_allocations, { enabled: true, max_number_of_allocations: 3 });
      assert.deepEqual(await bounds('ad'), [0, 3]);
      assert.deepEqual((await stats('ad'))?.adaptive_allocations, { enabled: true, max_number_of_allocations: 3 });
      assert.equal((await post('/_ml/trained_models/ad/deployment/_stop?force=true')).status, 200);
    });

    it('_update enables adaptive allocations on a fixed deployment and shows them; adaptive_allocations null removes them', async () => {
      await c.ml.startTrainedModelDeployment({ model_id: 'm', deployment_id: 'fx', number_of_allocations: 2, wait_for: 'started', timeout: '120s' });
      await started('fx');
      assert.equal((await stats('fx'))?.adaptive_allocations, undefined);
      const on = await c.ml.updateTrainedModelDeployment({ model_id: 'fx', adaptive_allocations: { enabled: true, min_number_of_allocations: 1 } });
      assert.deepEqual(on.assignment.adaptive_allocations, { enabled: true, min_number_of_allocations: 1 });
      assert.deepEqual(await bounds('fx'), [1, 2], 'no max: up to the allocations it had');
      assert.deepEqual((await stats('fx'))?.adaptive_allocations, { enabled: true, min_number_of_allocations: 1 });
      const reset = await post('/_ml/trained_models/fx/deployment/_update', { adaptive_allocations: null });
      assert.equal(reset.status, 200, reset.text);
      assert.equal(reset.body.assignment.adaptive_allocations, undefined);
      assert.equal((await stats('fx'))?.adaptive_allocations, undefined);
      const [min, max] = await bounds('fx');
      assert.ok(min === max && (min ?? 0) >= 1, `fixed again: ${min}..${max}`);
      assert.equal((await post('/_ml/trained_models/fx/deployment/_stop?force=true')).status, 200);
    });

    it('parses cache_size as a byte size: a bad one is 400 parse_exception, a good one is written as Elasticsearch writes it', async () => {
      for (const [q, body, reason] of [
        ['cache_size=abc', undefined, 'failed to parse setting [cache_size] with value [abc] as a size in bytes: unit is missing or unrecognized'],
        ['', { cache_size: 'abc' }, 'failed to parse setting [cache_size] with value [abc] as a size in bytes: unit is missing or unrecognized'],
        ['cache_size=1.555mb', undefined, 'failed to parse setting [cache_size] with more than two decimals in value [1.555mb]'],
        ['cache_size=10mb', { cache_size: '20mb' }, 'The parameter 20mb in the body is different from the parameter 10mb in the query'],
      ] as const) {
        const r = await post(`/_ml/trained_models/m/deployment/_start?deployment_id=cs&wait_for=starting&${q}`, body);
        assert.equal(r.status, 400, `${q} ${JSON.stringify(body)}: ${r.text}`);
        assert.equal(r.body.error.reason, reason);
      }
      assert.equal((await post('/_ml/trained_models/m/deployment/_start?deployment_id=cs&cache_size=-5kb')).body.error.type, 'parse_exception');
      assert.equal(await stats('cs'), undefined, 'nothing started');
      const ok = await c.ml.startTrainedModelDeployment({ model_id: 'm', deployment_id: 'cs', cache_size: '10MB', wait_for: 'starting' });
      assert.equal(ok.assignment.task_parameters.cache_size, '10mb');
      assert.equal((await stats('cs'))?.cache_size, '10mb');
      assert.equal((await post('/_ml/trained_models/cs/deployment/_stop?force=true')).status, 200);
      const inBody = await post('/_ml/trained_models/m/deployment/_start?deployment_id=cs2&wait_for=starting', { cache_size: '1.5kb' });
      assert.equal(inBody.status, 200, inBody.text);
      assert.equal(inBody.body.assignment.task_parameters.cache_size, '1536b');
      // The stats write Elasticsearch's ByteSizeValue.toString, not the size as given.
      assert.equal((await stats('cs2'))?.cache_size, '1.5kb');
      assert.equal((await post('/_ml/trained_models/cs2/deployment/_stop?force=true')).status, 200);
    });

    it('_update that changes nothing answers the assignment as it is, as Elasticsearch (hasUpdates), started or not', async () => {
      await c.ml.startTrainedModelDeployment({ model_id: 'm', deployment_id: 'same', number_of_allocations: 1, wait_for: 'starting' });
      for (const body of [{}, { number_of_allocations: 1 }, undefined]) {
        const r = await post('/_ml/trained_models/same/deployment/_update', body);
        assert.equal(r.status, 200, `${JSON.stringify(body)}: ${r.text}`);
        assert.equal(r.body.assignment.task_parameters.number_of_allocations, 1);
        assert.equal(r.body.assignment.task_parameters.deployment_id, 'same');
      }
      assert.deepEqual(await bounds('same'), [1, 1]);
      // Still checked first: a number below 1 is 400 whatever the deployment has.
      assert.equal((await post('/_ml/trained_models/same/deployment/_update', { number_of_allocations: 0 })).status, 400);
      assert.equal((await post('/_ml/trained_models/same/deployment/_stop?force=true')).status, 200);
    });

    it('at zero allocations (adaptive, min 0) a deployment is started; disabling adaptive allocations keeps it at zero, as Elasticsearch', async () => {
      const s = await c.ml.startTrainedModelDeployment({
        model_id: 'm',
        deployment_id: 'zero',
        wait_for: 'starting',
        adaptive_allocations: { enabled: true, min_number_of_allocations: 0, max_number_of_allocations: 2 },
      });
      assert.equal(s.assignment.adaptive_allocations?.min_number_of_allocations, 0);
      assert.deepEqual(await bounds('zero'), [0, 2]);
      await until('zero is started at zero', async () => {
        const st = await stats('zero');
        return st?.state === 'started' && st.allocation_status?.allocation_count === 0 && st.allocation_status.target_allocation_count === 0;
      });
      assert.equal((await stats('zero'))?.allocation_status?.state, 'fully_allocated', 'none wanted, none there');
      const off = await post('/_ml/trained_models/zero/deployment/_update', { adaptive_allocations: { enabled: false } });
      assert.equal(off.status, 200, off.text);
      assert.equal(off.body.assignment.task_parameters.number_of_allocations, 0);
      assert.equal(off.body.assignment.adaptive_allocations.enabled, false);
      assert.deepEqual(await bounds('zero'), [0, 0]);
      // A number brings it back, as on any fixed deployment.
      const one = await post('/_ml/trained_models/zero/deployment/_update', { number_of_allocations: 1 });
      assert.equal(one.status, 200, one.text);
      assert.deepEqual(await bounds('zero'), [1, 1]);
      assert.equal((await post('/_ml/trained_models/zero/deployment/_stop?force=true')).status, 200);
    });

    it("_start reads every field Elasticsearch's body parser declares, the query overriding the body; any other field is 400", async () => {
      const unknown = await post('/_ml/trained_models/m/deployment/_start?deployment_id=bf&wait_for=starting', { foo: 1 });
      assert.equal(unknown.status, 400, unknown.text);
      assert.equal(unknown.body.error.type, 'x_content_parse_exception');
      assert.equal(unknown.body.error.reason, '[start_trained_model_deployment] unknown field [foo]');
      const other = await post('/_ml/trained_models/m/deployment/_start?deployment_id=bf', { model_id: 'other' });
      assert.equal(other.status, 400, other.text);
      assert.equal(other.body.error.reason, "Inconsistent model_id; 'other' specified in the body differs from 'm' specified as a URL argument");
      // In the body: threads, queue, priority, wait_for, timeout (and model_id, the path's); the query's threads win.
      const r = await post('/_ml/trained_models/m/deployment/_start?deployment_id=bf&threads_per_allocation=2', {
        model_id: 'm',
        threads_per_allocation: 4,
        queue_capacity: 7,
        priority: 'normal',
        wait_for: 'starting',
        timeout: '30s',
        number_of_allocations: 1,
      });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.assignment.task_parameters.threads_per_allocation, 2);
      assert.equal(r.body.assignment.task_parameters.queue_capacity, 7);
      assert.equal((await post('/_ml/trained_models/bf/deployment/_stop?force=true')).status, 200);
      const bad = await post('/_ml/trained_models/m/deployment/_start?deployment_id=bf&wait_for=starting', { threads_per_allocation: 3 });
      assert.equal(bad.status, 400, 'the body is checked as the query is');
      assert.equal(await stats('bf'), undefined);
    });

    it('a stop checks the pipelines naming the deployment id (and its aliases), not those naming its model', async () => {
      await c.ingest.putPipeline({ id: 'uses-m', processors: [{ inference: { model_id: 'm', target_field: 'out' } }] });
      await c.ml.startTrainedModelDeployment({ model_id: 'm', wait_for: 'started', timeout: '120s' });
      await c.ml.startTrainedModelDeployment({ model_id: 'm', deployment_id: 'qf', wait_for: 'started', timeout: '120s' });
      assert.deepEqual(await c.ml.stopTrainedModelDeployment({ model_id: 'qf' }), {
        stopped: true,
        gantry: { stopped: ['qf'], drained: 0, failed: 0, rejected: 0 },
      });
      const blocked = await post('/_ml/trained_models/m/deployment/_stop');
      assert.equal(blocked.status, 409, blocked.text);
      assert.match(blocked.body.error.reason, /^Cannot stop deployment \[m\] as it is referenced by ingest processors \[uses-m\]; use force/);
      await c.ingest.putPipeline({ id: 'uses-qf', processors: [{ inference: { model_id: 'qf2', target_field: 'out' } }] });
      await c.ml.startTrainedModelDeployment({ model_id: 'm', deployment_id: 'qf2', wait_for: 'started', timeout: '120s' });
      assert.equal((await post('/_ml/trained_models/qf2/deployment/_stop')).status, 409, 'named by its own id');
      for (const id of ['m', 'qf2']) assert.equal((await post(`/_ml/trained_models/${id}/deployment/_stop?force=true`)).status, 200);
      await c.ingest.deletePipeline({ id: 'uses-m,uses-qf' });
    });
  });

/** Deletes of one model racing: one acknowledged, the rest 404, on every store. */
for (const ts of TEST_STORES)
  describe(`Elasticsearch model delete races (${ts.name})`, { skip: ts.skip, timeout: 600_000 }, () => {
    let g: TestGantry;
    let c: Client;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: SERVERLESS_FAST });
      c = esClient(g);
    });
    after(async () => {
      await g.dispose();
    });

    it('four forced deletes of a deployed model at once: one 200 acknowledged, three 404', async () => {
      await uploadModel(c, 'emb.v1', classifier, CLASSIFICATION);
      await c.ml.startTrainedModelDeployment({ model_id: 'emb.v1', wait_for: 'started', timeout: '120s' });
      const answers = await Promise.all(Array.from({ length: 4 }, () => esRaw(g, 'DELETE', '/_ml/trained_models/emb.v1?force=true&timeout=60s')));
      const statuses = answers.map((a) => a.status).sort();
      assert.deepEqual(statuses, [200, 404, 404, 404], answers.map((a) => a.text).join('\n'));
      assert.deepEqual(answers.find((a) => a.status === 200)?.body, { acknowledged: true });
      for (const a of answers.filter((x) => x.status === 404)) assert.equal(a.body.error.type, 'resource_not_found_exception');
      assert.equal((await esRaw(g, 'GET', '/_ml/trained_models/emb.v1')).status, 404);
      assert.equal((await c.ml.getTrainedModelsStats()).count, 0);
    });
  });
