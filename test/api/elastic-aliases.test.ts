import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { tinyClassifier } from '../fixtures/onnx/models.js';
import { esClient, esRaw } from '../helpers/elastic.js';
import { CLASSIFICATION, uploadModel } from '../helpers/elastic-models.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

const classifier = tinyClassifier({ labels: 3, hidden: 8, seed: 52 });

/** Model aliases: put and refuse, reassign, GET by alias, _infer by alias, the stop's pipeline check by alias, delete. */
for (const ts of TEST_STORES)
  describe(`Elasticsearch model aliases (${ts.name})`, { skip: ts.skip, timeout: 600_000 }, () => {
    let g: TestGantry;
    let c: Client;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: SERVERLESS_FAST });
      c = esClient(g);
      await uploadModel(c, 'm', classifier, CLASSIFICATION);
      await c.ml.putTrainedModel({ model_id: 'n', model_type: 'onnx' as 'pytorch', inference_config: CLASSIFICATION });
    });
    after(async () => {
      await g.dispose();
    });

    const call = (method: string, path: string, body?: unknown) =>
      esRaw(g, method, path, body === undefined ? {} : { body: JSON.stringify(body), contentType: 'application/json' });

    it('puts an alias; refuses a bad name, a model id, an unknown model and a move without reassign; reassigns', async () => {
      const ok = await call('PUT', '/_ml/trained_models/m/model_aliases/current');
      assert.equal(ok.status, 200, ok.text);
      assert.deepEqual(ok.body, { acknowledged: true });
      assert.equal((await call('PUT', '/_ml/trained_models/m/model_aliases/current')).status, 200, 'again: no change');
      const bad = await call('PUT', '/_ml/trained_models/m/model_aliases/Bad-');
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error.type, 'illegal_argument_exception');
      // PutTrainedModelAliasAction's rule: dots inside, never a digit at the end; never the model's own id.
      const digit = await call('PUT', '/_ml/trained_models/m/model_aliases/bge-v1.5');
      assert.equal(digit.status, 400);
      assert.match(digit.body.error.reason, /^Invalid model_alias; 'bge-v1\.5' .*cannot end with numbers/);
      assert.equal((await call('PUT', '/_ml/trained_models/m/model_aliases/m')).body.error.reason, 'model_alias [m] cannot equal model_id [m]');
      assert.equal((await call('PUT', '/_ml/trained_models/m/model_aliases/bge.latest')).status, 200);
      assert.equal((await call('DELETE', '/_ml/trained_models/m/model_aliases/bge.latest')).status, 200);
      const same = await call('PUT', '/_ml/trained_models/m/model_aliases/n');
      assert.equal(same.status, 400);
      assert.equal(same.body.error.reason, 'cannot use model_alias [n] as it is the same as the model_id of another model');
      assert.equal((await call('PUT', '/_ml/trained_models/nope/model_aliases/x')).status, 404);
      const taken = await call('PUT', '/_ml/trained_models/n/model_aliases/current');
      assert.equal(taken.status, 400);
      assert.equal(
        taken.body.error.reason,
        'cannot assign model_alias [current] to model_id [n] as model_alias already refers to [m]. Set parameter [reassign] to [true] if model_alias should be reassigned.',
      );
      assert.equal((await call('PUT', '/_ml/trained_models/n/model_aliases/current?reassign=true')).status, 200);
      let got = await c.ml.getTrainedModels({ model_id: 'n' });
      assert.deepEqual(got.trained_model_configs[0]?.metadata?.model_aliases, ['current']);
      assert.equal((await call('PUT', '/_ml/trained_models/m/model_aliases/current?reassign=true')).status, 200);
      got = await c.ml.getTrainedModels({ model_id: 'current' });
      assert.equal(got.trained_model_configs[0]?.model_id, 'm', 'GET by alias answers the model');
      assert.deepEqual(got.trained_model_configs[0]?.metadata?.model_aliases, ['current']);
      assert.equal((await c.ml.getTrainedModels({ model_id: 'n' })).trained_model_configs[0]?.metadata, undefined);
      const clash = await call('PUT', '/_ml/trained_models/current', { model_type: 'onnx', inference_config: CLASSIFICATION });
      assert.equal(clash.status, 400, 'a model id may not equal an alias');
    });

    it('_infer by alias answers as by model id; a pipeline naming the alias blocks the stop of the deployment whose id is the model id unless forced; delete', async () => {
      await c.ml.startTrainedModelDeployment({ model_id: 'm', wait_for: 'started', timeout: '120s' });
      await c.ml.startTrainedModelDeployment({ model_id: 'm', deployment_id: 'dep', wait_for: 'started', timeout: '120s' });
      const doc = { docs: [{ text_field: 'the alias names the model' }] };
      const byId = await call('POST', '/_ml/trained_models/m/_infer', doc);
      const byAlias = await call('POST', '/_ml/trained_models/current/_infer', doc);
      assert.equal(byAlias.status, 200, byAlias.text);
      assert.deepEqual(byAlias.body, byId.body);
      const wrongMethod = await call('POST', '/_ml/trained_models/n/model_aliases/later');
      assert.notEqual(wrongMethod.status, 200, 'POST is not the alias method');
      await c.ingest.putPipeline({ id: 'uses-alias', processors: [{ inference: { model_id: 'current', target_field: 'out' } }] });
      const st = await c.ml.getTrainedModelsStats({ model_id: 'm' });
      assert.equal(st.trained_model_stats[0]?.pipeline_count, 1, 'pipelines by alias count');
      // TransportStopTrainedModelDeploymentAction checks the aliases of the model named by the deployment id: `dep` has none.
      assert.equal((await call('POST', '/_ml/trained_models/dep/deployment/_stop')).status, 200);
      const blocked = await call('POST', '/_ml/trained_models/m/deployment/_stop');
      assert.equal(blocked.status, 409, blocked.text);
      assert.equal(
        blocked.body.error.reason,
        'Cannot stop deployment [m] as it has a model_alias [current] that is still referenced by ingest processors; use force to stop the deployment',
      );
      const delBlocked = await call('DELETE', '/_ml/trained_models/m');
      assert.equal(delBlocked.status, 409);
      assert.equal((await call('POST', '/_ml/trained_models/m/deployment/_stop?force=true')).status, 200);
      const wrong = await call('DELETE', '/_ml/trained_models/n/model_aliases/current');
      assert.equal(wrong.status, 400, 'the alias names another model');
      assert.equal((await call('DELETE', '/_ml/trained_models/m/model_aliases/current')).status, 200);
      assert.equal((await call('DELETE', '/_ml/trained_models/m/model_aliases/current')).status, 404);
      assert.equal((await call('POST', '/_ml/trained_models/current/_infer', doc)).status, 404);
      await c.ingest.deletePipeline({ id: 'uses-alias' });
      assert.equal((await call('PUT', '/_ml/trained_models/m/model_aliases/gone')).status, 200);
      await c.ml.deleteTrainedModel({ model_id: 'm' });
      assert.equal((await call('DELETE', '/_ml/trained_models/m/model_aliases/gone')).status, 404, 'the alias went with its model');
    });
  });
