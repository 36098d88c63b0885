import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errors, type Client } from '@elastic/elasticsearch';
import { parseTokenization, tokenize, Vocabulary } from '../../src/domain/ml/tokenizer.js';
import { referenceClassify, referenceEmbed, tinyClassifier, tinyEmbedder, type TinyModel } from '../fixtures/onnx/models.js';
import { esClient } from '../helpers/elastic.js';
import { CLASSIFICATION, EMBEDDING, uploadModel } from '../helpers/elastic-models.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

const LABELS = CLASSIFICATION.text_classification.classification_labels;
const classifier = tinyClassifier({ labels: 3, hidden: 8, seed: 31 });
const embedder = tinyEmbedder({ hidden: 6, seed: 32, withTokenTypes: true });
const lower = parseTokenization({ bert: { do_lower_case: true } });
const ids = (m: TinyModel, text: string): number[] => tokenize(text, new Vocabulary(m.vocabulary), lower).inputIds;
const near = (a: number, b: number | undefined, what: string): void => assert.ok(Math.abs(a - (b ?? NaN)) <= 1e-5, `${what}: ${a} vs ${b}`);

/**
 * The whole trained-model path with the real `@elastic/elasticsearch` client: upload, deploy two
 * allocations (real `gantry inference-worker` processes), infer to the reference numbers, stats,
 * an ingest pipeline that blocks a plain stop, simulate, and a forced stop.
 */
for (const ts of ONE_STORE)
  describe(`Elasticsearch client end to end (${ts.name})`, { skip: ts.skip, timeout: 600_000 }, () => {
    let g: TestGantry;
    let c: Client;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: SERVERLESS_FAST });
      c = esClient(g);
    });
    after(async () => {
      await g.dispose();
    });

    it('deploys, infers, reports stats, refuses a stop a pipeline needs, simulates, stops with force', async () => {
      await uploadModel(c, 'sentiment', classifier, CLASSIFICATION);
      const started = await c.ml.startTrainedModelDeployment({
        model_id: 'sentiment',
        number_of_allocations: 2,
        wait_for: 'fully_allocated',
        timeout: '120s',
      });
      const a = started.assignment;
      assert.equal(a.assignment_state, 'started');
      assert.equal(a.task_parameters.number_of_allocations, 2);
      assert.equal(a.task_parameters.deployment_id, 'sentiment');
      assert.equal(a.task_parameters.queue_capacity, 1024);
      const current = Object.values(a.routing_table).reduce((n, r) => n + r.current_allocations, 0);
      assert.equal(current, 2);

      const text = 'I love this movie!';
      const r = await c.ml.inferTrainedModel({ model_id: 'sentiment', docs: [{ text_field: text }] });
      const got = r.inference_results[0] as { predicted_value: string; top_classes: { class_name: string; class_probability: number }[] };
      const x = ids(classifier, text);
      const ref = referenceClassify(
        classifier,
        x,
        x.map(() => 1),
      ).probabilities;
      assert.equal(got.predicted_value, LABELS[ref.indexOf(Math.max(...ref))]);
      for (const tc of got.top_classes) near(tc.class_probability, ref[LABELS.indexOf(tc.class_name)], tc.class_name);

      const stats = await until('the answer counted', async () => {
        const s = await c.ml.getTrainedModelsStats({ model_id: 'sentiment' });
        return (s.trained_model_stats[0]?.deployment_stats?.inference_count ?? 0) >= 1 ? s : null;
      });
      assert.equal(stats.count, 1);
      const ds = stats.trained_model_stats[0]?.deployment_stats;
      assert.equal(ds?.state, 'started');
      assert.equal(ds?.allocation_status?.state, 'fully_allocated');
      assert.equal(ds?.nodes.length, 2);

      await c.ingest.putPipeline({ id: 'classify', processors: [{ inference: { model_id: 'sentiment', target_field: 'sentiment' } }] });
      const statsAfter = await c.ml.getTrainedModelsStats({ model_id: 'sentiment' });
      assert.equal(statsAfter.trained_model_stats[0]?.pipeline_count, 1);
      await assert.rejects(c.ml.stopTrainedModelDeployment({ model_id: 'sentiment' }), (e: unknown) => {
        assert.ok(e instanceof errors.ResponseError);
        assert.equal(e.meta.statusCode, 409);
        assert.match(JSON.stringify(e.body), /referenced by ingest processors \[classify\]; use force/);
        return true;
      });

      const sim = await c.ingest.simulate({ id: 'classify', docs: [{ _index: 'i', _id: '1', _source: { text_field: text } }] });
      const doc = sim.docs[0]?.doc?._source as { sentiment: { predicted_value: string } };
      assert.equal(doc.sentiment.predicted_value, got.predicted_value);
      // `__proto__` in a field path is a field of the document, as in Elasticsearch: it once walked to Object.prototype
      // (the server runs in this process: every object of it changed, and the next metrics write crashed it).
      const proto = await c.ingest.simulate({
        pipeline: {
          processors: [
            { inference: { model_id: 'sentiment', input_output: [{ input_field: 'text_field', output_field: '__proto__.probe' }] } },
            { inference: { model_id: 'sentiment', field_map: { text_field: 'text_field' }, target_field: 'constructor.prototype.probe2' } },
          ],
        },
        docs: [{ _index: 'i', _id: '1', _source: { text_field: text } }],
      });
      const polluted = proto.docs[0]?.doc?._source as Record<string, Record<string, unknown>>;
      assert.equal(Object.hasOwn(polluted, '__proto__'), true, JSON.stringify(proto));
      assert.equal(polluted['__proto__']?.['probe'], got.predicted_value);
      assert.deepEqual([({} as Record<string, unknown>)['probe'], ({} as Record<string, unknown>)['probe2']], [undefined, undefined]);

      const stop = await c.ml.stopTrainedModelDeployment({ model_id: 'sentiment', force: true });
      assert.equal(stop.stopped, true);
      const left = await g.control.serverless.listDeployments(await g.control.authenticate(g.adminKey));
      assert.equal(left.filter((d) => d.deployment.name === 'sentiment').length, 0, 'deleted after the stop');
      const noDeployment = await c.ml.getTrainedModelsStats({ model_id: 'sentiment' });
      assert.equal(noDeployment.trained_model_stats[0]?.deployment_stats, undefined);
    });

    it('embeds to the reference', async () => {
      await uploadModel(c, 'embed', embedder, EMBEDDING);
      await c.ml.startTrainedModelDeployment({ model_id: 'embed', deployment_id: 'embed-1', wait_for: 'started', timeout: '120s' });
      const text = 'this movie is great';
      const r = await c.ml.inferTrainedModel({ model_id: 'embed', docs: [{ text_field: text }] });
      const x = ids(embedder, text);
      const ref = referenceEmbed(
        embedder,
        x,
        x.map(() => 1),
      );
      (r.inference_results[0]?.predicted_value as number[]).forEach((v, j) => near(v, ref[j], `[${j}]`));
      assert.deepEqual(await c.ml.stopTrainedModelDeployment({ model_id: 'embed-1' }), {
        stopped: true,
        gantry: { stopped: ['embed-1'], drained: 0, failed: 0, rejected: 0 },
      });
    });
  });
