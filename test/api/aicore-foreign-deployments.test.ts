import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { idleTemplate } from '../fixtures/aicore/bulk-templates.js';
import { tinyClassifier } from '../fixtures/onnx/models.js';
import { lm } from '../helpers/aicore.js';
import { esClient, esRaw } from '../helpers/elastic.js';
import { CLASSIFICATION, uploadModel } from '../helpers/elastic-models.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

const classifier = tinyClassifier({ labels: 3, hidden: 8, seed: 61 });
const DEPLOYMENTS = '/v2/lm/deployments';

/** AI Core's 404 for a deployment it does not have, in its error shape. */
function notFound(r: { status: number; body: any; text: string }, what: string): void {
  assert.equal(r.status, 404, `${what}: ${r.text}`);
  assert.equal(r.body.error?.code, 'DEPLOYMENT_NOT_FOUND', `${what}: ${r.text}`);
  assert.equal(typeof r.body.error?.requestId, 'string', `${what}: ${r.text}`);
}

/**
 * A deployment AI Core did not make (an Elasticsearch trained-model deployment, in the same account and
 * in resource group `default`) was left out of AI Core's list, but its by-id routes took its id: a
 * PATCH stopped it behind Elasticsearch's back, which then showed it "stopping" for good. Every
 * AI Core route now answers it as it answers an id that names nothing.
 */
for (const ts of ONE_STORE)
  describe(`AI Core and deployments it did not make (${ts.name})`, { skip: ts.skip, timeout: 600_000 }, () => {
    let g: TestGantry;
    let key: string;
    let es: Client;
    let uid: string;
    let configurationId: string;
    const call = (method: string, path: string, body?: unknown, o?: { group?: string | null; contentType?: string }) => lm(g, key, method, path, body, o);
    const esInfer = () =>
      esRaw(g, 'POST', '/_ml/trained_models/es-d/_infer', {
        auth: `ApiKey ${key}`,
        body: JSON.stringify({ docs: [{ text_field: 'hi' }] }),
        contentType: 'application/json',
      });
    const esState = async (): Promise<string> =>
      (await esRaw(g, 'GET', '/_ml/trained_models/es-d/_stats', { auth: `ApiKey ${key}` })).body.trained_model_stats[0].deployment_stats.state;

    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: SERVERLESS_FAST });
      const u = await g.api('POST', '/api/v0/users/', { username: 'both', credit: 100 });
      assert.equal(u.status, 200, u.text);
      key = u.body.api_key as string;
      es = esClient(g, key);
      await uploadModel(es, 'm', classifier, CLASSIFICATION);
      const started = await esRaw(g, 'POST', '/_ml/trained_models/m/deployment/_start?deployment_id=es-d&timeout=120s', { auth: `ApiKey ${key}` });
      assert.equal(started.status, 200, started.text);
      const p = await g.control.authenticate(key);
      const d = await g.control.ml.deployment(p, 'es-d');
      assert.ok(d !== undefined);
      uid = d.view.deployment.uid;
      assert.equal(d.view.deployment.resourceGroup, 'default');
      // A configuration of AI Core's own, so a change of configuration gets as far as the deployment.
      const t = await call('POST', '/v2/admin/servingTemplates', { files: [{ name: 'idle.yaml', content: idleTemplate() }] }, { group: null });
      assert.equal(t.status, 201, t.text);
      const c = await call('POST', '/v2/lm/configurations', {
        name: 'idle',
        scenarioId: 'bulk-test',
        executableId: 'idle-model',
        parameterBindings: [],
        inputArtifactBindings: [],
      });
      assert.equal(c.status, 201, c.text);
      configurationId = c.body.id as string;
    });
    after(() => g.dispose());

    it('not listed, and 404 on every by-id route: read, stop, start, change, delete, logs, inference, bulk', async () => {
      // Elasticsearch's inference first: what the gateway resolved for it must not serve AI Core's inference URL.
      assert.equal((await esInfer()).status, 200);

      const list = await call('GET', DEPLOYMENTS);
      assert.equal(list.status, 200, list.text);
      assert.deepEqual(list.body, { count: 0, resources: [] });
      assert.equal((await call('GET', `${DEPLOYMENTS}/$count`)).text, '0');

      notFound(await call('GET', `${DEPLOYMENTS}/${uid}`), 'GET');
      notFound(await call('GET', `${DEPLOYMENTS}/${uid}?$select=status`), 'GET $select=status');
      notFound(await call('PATCH', `${DEPLOYMENTS}/${uid}`, { targetStatus: 'STOPPED' }), 'PATCH STOPPED');
      notFound(await call('PATCH', `${DEPLOYMENTS}/${uid}`, { targetStatus: 'RUNNING' }), 'PATCH RUNNING');
      notFound(await call('PATCH', `${DEPLOYMENTS}/${uid}`, { configurationId }), 'PATCH configurationId');
      notFound(await call('DELETE', `${DEPLOYMENTS}/${uid}`), 'DELETE');
      notFound(await call('GET', `${DEPLOYMENTS}/${uid}/logs`), 'logs');
      notFound(await call('POST', `/v2/inference/deployments/${uid}/infer`, { docs: [{ text_field: 'hi' }] }), 'inference');
      notFound(await call('POST', `/v2/inference/deployments/${uid}/infer`, { docs: [{ text_field: 'hi' }] }, { group: null }), 'inference, no header');

      const bulk = await call(
        'PATCH',
        DEPLOYMENTS,
        {
          deployments: [
            { id: uid, targetStatus: 'STOPPED' },
            { id: 'feed000000000000', targetStatus: 'DELETED' },
          ],
        },
        { contentType: 'application/merge-patch+json' },
      );
      assert.equal(bulk.status, 202, bulk.text);
      assert.deepEqual(
        bulk.body.deployments.map((d: { id: string; error?: { code: string } }) => [d.id, d.error?.code]),
        [
          [uid, 'DEPLOYMENT_NOT_FOUND'],
          ['feed000000000000', 'DEPLOYMENT_NOT_FOUND'],
        ],
      );

      // Elasticsearch's deployment went on as it was.
      assert.equal(await esState(), 'started');
      assert.equal((await esInfer()).status, 200);
    });
  });
