import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { tinyClassifier } from '../fixtures/onnx/models.js';
import { esClient, esRaw } from '../helpers/elastic.js';
import { CLASSIFICATION, uploadModel } from '../helpers/elastic-models.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

const classifier = tinyClassifier({ labels: 3, hidden: 8, seed: 51 });

/** Start parameters, duplicate ids, wait_for and timeouts, update, inference errors and the stats shape. */
for (const ts of ONE_STORE)
  describe(`Elasticsearch trained-model deployments (${ts.name})`, { skip: ts.skip, timeout: 600_000 }, () => {
    let g: TestGantry;
    let c: Client;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: SERVERLESS_FAST });
      c = esClient(g);
      await uploadModel(c, 'm', classifier, CLASSIFICATION);
      await uploadModel(c, 'other', classifier, CLASSIFICATION);
      await c.ml.putTrainedModel({ model_id: 'undefined-model', model_type: 'onnx' as 'pytorch', inference_config: CLASSIFICATION });
    });
    after(async () => {
      await g.dispose();
    });

    const post = (path: string, body?: unknown) =>
      esRaw(g, 'POST', path, body === undefined ? {} : { body: JSON.stringify(body), contentType: 'application/json' });

    it('refuses bad start parameters with 400 and a model without a definition', async () => {
      for (const q of [
        'number_of_allocations=0',
        'number_of_allocations=100000',
        'threads_per_allocation=3',
        'threads_per_allocation=64',
        'queue_capacity=-1',
        'queue_capacity=0',
        'priority=high',
        'priority=low&number_of_allocations=2',
        'wait_for=never',
        'timeout=soon',
        'deployment_id=other',
        'deployment_id=UPPER.Case',
        `deployment_id=${'d'.repeat(65)}`,
        'deployment_id=-dash',
      ]) {
        const r = await post(`/_ml/trained_models/m/deployment/_start?${q}`);
        assert.equal(r.status, 400, `${q}: ${r.text}`);
        assert.equal(r.body.error.type, 'illegal_argument_exception', q);
      }
      // Elasticsearch names the one setting a low priority forbids.
      const lowMany = await post('/_ml/trained_models/m/deployment/_start?priority=low&number_of_allocations=2');
      assert.equal(lowMany.body.error.reason, '[number_of_allocations] must be 1 when [priority] is low');
      const lowThreads = await post('/_ml/trained_models/m/deployment/_start?priority=low&threads_per_allocation=2');
      assert.equal(lowThreads.status, 400);
      assert.equal(lowThreads.body.error.reason, '[threads_per_allocation] must be 1 when [priority] is low');
      const undef = await post('/_ml/trained_models/undefined-model/deployment/_start');
      assert.equal(undef.status, 404);
      assert.equal(undef.body.error.reason, 'Could not find trained model definition [undefined-model]');
      assert.equal((await post('/_ml/trained_models/none/deployment/_start')).status, 404);
    });

    it('starts at once with wait_for=starting, refuses a duplicate id, times out with 408, updates, clears its cache', async () => {
      const s = await post('/_ml/trained_models/m/deployment/_start?deployment_id=d1&wait_for=starting');
      assert.equal(s.status, 200, s.text);
      assert.equal(s.body.assignment.task_parameters.deployment_id, 'd1');
      assert.equal(s.body.assignment.task_parameters.model_id, 'm');
      const dup = await post('/_ml/trained_models/m/deployment/_start?deployment_id=d1');
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.reason, 'Could not start model deployment because an existing deployment with the same id [d1] exist');
      const slow = await post('/_ml/trained_models/m/deployment/_start?deployment_id=d2&number_of_allocations=2&wait_for=fully_allocated&timeout=1ms');
      assert.equal(slow.status, 408, slow.text);
      assert.equal(slow.body.error.type, 'status_exception');
      const started = await c.ml.startTrainedModelDeployment({ model_id: 'm', deployment_id: 'd3', wait_for: 'started', timeout: '120s' });
      assert.equal(started.assignment.assignment_state, 'started');
      const u = await post('/_ml/trained_models/d3/deployment/_update', { number_of_allocations: 2 });
      assert.equal(u.status, 200, u.text);
      assert.equal(u.body.assignment.task_parameters.number_of_allocations, 2);
      assert.deepEqual((await post('/_ml/trained_models/d3/deployment/cache/_clear')).body, { cleared: true });
      const del = await esRaw(g, 'DELETE', '/_ml/trained_models/m');
      assert.equal(del.status, 409, 'deployed: delete needs force');
      for (const id of ['d1', 'd2', 'd3']) assert.equal((await post(`/_ml/trained_models/${id}/deployment/_stop?force=true`)).status, 200);
    });

    it('adaptive_allocations on start and update become the worker bounds and are shown back', async () => {
      const adaptive = { enabled: true, min_number_of_allocations: 1, max_number_of_allocations: 2 };
      const s = await post('/_ml/trained_models/m/deployment/_start?deployment_id=ad&wait_for=started&timeout=120s', { adaptive_allocations: adaptive });
      assert.equal(s.status, 200, s.text);
      assert.deepEqual(s.body.assignment.adaptive_allocations, adaptive);
      // _update takes a started deployment only: wait_for=started answers when an allocation serves, its state may follow a pass later.
      await until(
        'deployment ad started',
        async () => {
          const st = await c.ml.getTrainedModelsStats({ model_id: 'm' });
          return st.trained_model_stats.some((x) => x.deployment_stats?.deployment_id === 'ad' && x.deployment_stats.state === 'started');
        },
        60_000,
      );
      const wider = { ...adaptive, max_number_of_allocations: 3 };
      const u = await post('/_ml/trained_models/ad/deployment/_update', { adaptive_allocations: wider });
      assert.equal(u.status, 200, u.text);
      assert.deepEqual(u.body.assignment.adaptive_allocations, wider);
      const st = await c.ml.getTrainedModelsStats({ model_id: 'm' });
      const d = st.trained_model_stats.find((x) => x.deployment_stats?.deployment_id === 'ad')?.deployment_stats;
      assert.deepEqual(d?.adaptive_allocations, wider);
      const bad = await post('/_ml/trained_models/m/deployment/_start?deployment_id=ad2', {
        adaptive_allocations: { enabled: true, max_number_of_allocations: 0 },
      });
      assert.equal(bad.status, 400, bad.text);
      assert.equal((await post('/_ml/trained_models/ad/deployment/_stop?force=true')).status, 200);
    });

    it("a part PUT on a deployed model is refused and changes nothing: new workers still load the model's definition", async () => {
      assert.equal((await post('/_ml/trained_models/other/deployment/_start?deployment_id=keep1&wait_for=started&timeout=120s')).status, 200);
      // Part 0 again with the model's own totals: garbage that the check would refuse.
      const length = classifier.bytes.length;
      const junk = JSON.stringify({ definition: Buffer.alloc(Math.ceil(length / 3), 1).toString('base64'), total_parts: 3, total_definition_length: length });
      const put = await esRaw(g, 'PUT', '/_ml/trained_models/other/definition/0', { body: junk, contentType: 'application/json' });
      assert.equal(put.status, 400, put.text);
      assert.equal(put.body.error.type, 'resource_already_exists_exception');
      assert.equal(put.body.error.code, 'MODEL_DEFINITION_EXISTS');
      const m = await c.ml.getTrainedModels({ model_id: 'other', include: 'definition_status' });
      assert.equal((m.trained_model_configs[0] as { fully_defined?: boolean }).fully_defined, true);
      assert.equal((await post('/_ml/trained_models/keep1/_infer', { docs: [{ text_field: 'x' }] })).status, 200);
      const second = await post('/_ml/trained_models/other/deployment/_start?deployment_id=keep2&wait_for=started&timeout=120s');
      assert.equal(second.status, 200, second.text);
      assert.equal(second.body.assignment.assignment_state, 'started');
      for (const id of ['keep1', 'keep2']) assert.equal((await post(`/_ml/trained_models/${id}/deployment/_stop?force=true`)).status, 200);
    });

    it('a full queue answers 429 es_rejected_execution_exception, counted as rejected', async () => {
      const s = await post(
        '/_ml/trained_models/m/deployment/_start?deployment_id=q1&queue_capacity=1&gantry_inference_delay_ms=2000&wait_for=started&timeout=120s',
      );
      assert.equal(s.status, 200, s.text);
      // One in flight (2 s), one queued: the rest find the queue full.
      const answers = await Promise.all(Array.from({ length: 6 }, () => post('/_ml/trained_models/q1/_infer?timeout=60s', { docs: [{ text_field: 'x' }] })));
      const full = answers.filter((a) => a.status === 429);
      assert.ok(full.length >= 1, answers.map((a) => a.status).join(','));
      assert.ok(
        answers.every((a) => a.status === 200 || a.status === 429),
        answers.map((a) => a.text).join('\n'),
      );
      for (const a of full) assert.equal(a.body.error.type, 'es_rejected_execution_exception');
      const st = await c.ml.getTrainedModelsStats({ model_id: 'm' });
      const d = st.trained_model_stats.find((x) => x.deployment_stats?.deployment_id === 'q1')?.deployment_stats;
      assert.equal(d?.rejected_execution_count, full.length);
      assert.equal((await post('/_ml/trained_models/q1/deployment/_stop?force=true')).status, 200);
    });

    it('an _infer (or a pipeline simulation) whose caller leaves while it waits in the queue gives its place to the next: queued, not refused', async () => {
      const s = await post(
        '/_ml/trained_models/m/deployment/_start?deployment_id=q2&queue_capacity=1&gantry_inference_delay_ms=5000&wait_for=started&timeout=120s',
      );
      assert.equal(s.status, 200, s.text);
      const d = await g.control.ml.deployment(await g.control.authenticate(g.adminKey), 'q2');
      assert.ok(d);
      const pending = () => g.control.ctx.traffic.pending(d.view.endpoint.id);
      const infer = (signal?: AbortSignal) =>
        fetch(`${g.url}/_ml/trained_models/q2/_infer?timeout=60s`, {
          method: 'POST',
          headers: { authorization: `ApiKey ${g.adminKey as string}`, 'content-type': 'application/json' },
          body: JSON.stringify({ docs: [{ text_field: 'x' }] }),
          signal,
        });
      const answered4xx = async (): Promise<number> =>
        Number(/gantry_http_requests_total\{dialect="elastic",code="4xx"\} (\d+)/.exec(await (await fetch(`${g.url}/metrics`)).text())?.[1] ?? 0);
      const before4xx = await answered4xx();
      const first = infer();
      await until('one in flight', async () => pending().inFlight === 1);
      const ac = new AbortController();
      const leaving = infer(ac.signal).catch(() => 'left');
      await until('one queued', async () => pending().queued === 1);
      ac.abort();
      assert.equal(await leaving, 'left');
      await until('its place given up', async () => pending().queued === 0);
      // The pipeline simulation calls the same inference: its caller leaving gives the place up too.
      const ac2 = new AbortController();
      const simulating = fetch(`${g.url}/_ingest/pipeline/_simulate`, {
        method: 'POST',
        headers: { authorization: `ApiKey ${g.adminKey as string}`, 'content-type': 'application/json' },
        body: JSON.stringify({ pipeline: { processors: [{ inference: { model_id: 'q2' } }] }, docs: [{ _source: { text_field: 'x' } }] }),
        signal: ac2.signal,
      }).catch(() => 'left');
      await until('the simulation queued', async () => pending().queued === 1);
      ac2.abort();
      assert.equal(await simulating, 'left');
      await until('its place given up too', async () => pending().queued === 0);
      assert.equal(pending().inFlight, 1, 'while the first is still at the worker');
      await until('both that left counted as 499 in the HTTP metrics', async () => (await answered4xx()) === before4xx + 2);
      // The queue holds one: had the caller gone kept its place, this one would be refused (429).
      const next = await infer();
      assert.equal(next.status, 200, await next.text());
      assert.equal((await first).status, 200);
      const st = await c.ml.getTrainedModelsStats({ model_id: 'm' });
      const q2 = st.trained_model_stats.find((x) => x.deployment_stats?.deployment_id === 'q2')?.deployment_stats;
      assert.deepEqual([q2?.rejected_execution_count, q2?.timeout_count, q2?.inference_count], [0, 0, 2]);
      assert.equal((await post('/_ml/trained_models/q2/deployment/_stop?force=true')).status, 200);
    });

    it('infer errors: not deployed 409, missing field 400, tiny timeout 408; stats shape', async () => {
      const nd = await post('/_ml/trained_models/other/_infer', { docs: [{ text_field: 'x' }] });
      assert.equal(nd.status, 409);
      assert.equal(nd.body.error.reason, 'Model [other] must be deployed to use. Please deploy with the start trained model deployment API.');
      await c.ml.startTrainedModelDeployment({ model_id: 'other', wait_for: 'started', timeout: '120s' });
      const missing = await post('/_ml/trained_models/other/_infer', { docs: [{ text: 'x' }] });
      assert.equal(missing.status, 400, missing.text);
      assert.equal(missing.body.error.code, 'INPUT_FIELD_MISSING');
      const tiny = await post('/_ml/trained_models/other/_infer?timeout=1nanos', { docs: [{ text_field: 'x' }] });
      assert.equal(tiny.status, 408, tiny.text);
      const dep = await post('/_ml/trained_models/other/deployment/_infer', { docs: [{ text_field: 'x' }] });
      assert.equal(dep.status, 200);
      assert.match(dep.headers.get('warning') ?? '', /deprecated/);
      const st = await c.ml.getTrainedModelsStats();
      assert.equal(st.count, 3);
      const o = st.trained_model_stats.find((x) => x.model_id === 'other');
      const d = o?.deployment_stats;
      assert.ok(d);
      for (const k of ['deployment_id', 'model_id', 'state', 'allocation_status', 'threads_per_allocation', 'queue_capacity', 'priority', 'start_time'])
        assert.ok(k in d, k);
      for (const k of ['inference_count', 'timeout_count', 'rejected_execution_count', 'average_inference_time_ms', 'number_of_pending_requests'])
        assert.ok(k in (d.nodes[0] ?? {}), k);
      assert.ok((d.timeout_count ?? 0) >= 1);
      const none = await esRaw(g, 'GET', '/_ml/trained_models/zz*/_stats?allow_no_match=false');
      assert.equal(none.status, 404);
      assert.equal((await post('/_ml/trained_models/other/deployment/_stop')).status, 200);
    });

    it('a forced delete of a deployed model stops its deployment first; a bad delete timeout is a 400 that deletes nothing', async () => {
      await uploadModel(c, 'doomed', classifier, CLASSIFICATION);
      await c.ml.startTrainedModelDeployment({ model_id: 'doomed', wait_for: 'started', timeout: '120s' });
      // `0` is a time value as in Elasticsearch (no unit needed): the infer times out, it is not refused.
      const zero = await post('/_ml/trained_models/doomed/_infer?timeout=0', { docs: [{ text_field: 'x' }] });
      assert.notEqual(zero.status, 400, zero.text);
      const bad = await esRaw(g, 'DELETE', '/_ml/trained_models/doomed?force=true&timeout=abc');
      assert.equal(bad.status, 400, bad.text);
      assert.equal(bad.body.error.type, 'illegal_argument_exception');
      assert.equal((await post('/_ml/trained_models/doomed/_infer', { docs: [{ text_field: 'x' }] })).status, 200, 'still deployed');
      assert.equal((await esRaw(g, 'DELETE', '/_ml/trained_models/doomed')).status, 409, 'deployed: kept unless forced');
      const del = await esRaw(g, 'DELETE', '/_ml/trained_models/doomed?force=true&timeout=60s');
      assert.equal(del.status, 200, del.text);
      const st = await c.ml.getTrainedModelsStats();
      assert.equal(st.trained_model_stats.filter((x) => x.model_id === 'doomed' || x.deployment_stats?.deployment_id === 'doomed').length, 0);
      assert.equal((await post('/_ml/trained_models/doomed/_infer', { docs: [{ text_field: 'x' }] })).status, 404);
      // A new model of the same id has no deployment of the old one.
      await uploadModel(c, 'doomed', classifier, CLASSIFICATION);
      const again = await c.ml.getTrainedModelsStats({ model_id: 'doomed' });
      assert.equal(again.trained_model_stats[0]?.deployment_stats, undefined);
      assert.deepEqual(await c.ml.deleteTrainedModel({ model_id: 'doomed' }), { acknowledged: true });
    });
  });
