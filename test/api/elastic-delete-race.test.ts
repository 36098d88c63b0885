import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import type { Store } from '../../src/store/store.js';
import { tinyClassifier } from '../fixtures/onnx/models.js';
import { esClient, esRaw } from '../helpers/elastic.js';
import { CLASSIFICATION, uploadModel } from '../helpers/elastic-models.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { hookStoreOnce } from '../helpers/store-hook.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

const classifier = tinyClassifier({ labels: 3, hidden: 8, seed: 53 });

/**
 * A forced model delete and a `_start` of the same model, in the two orders that a tester's race found
 * leaving a deployment of a deleted model running (holding a GPU, billed, shown nowhere). Each order is
 * made deterministic by running one call inside a store method of the other.
 */
for (const ts of ONE_STORE)
  describe(`Elasticsearch model delete racing a start (${ts.name})`, { skip: ts.skip, timeout: 300_000 }, () => {
    let g: TestGantry;
    let c: Client;
    let real: Store;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: SERVERLESS_FAST });
      c = esClient(g);
      real = g.control.ctx.store;
    });
    after(async () => {
      (g.control.ctx as { store: Store }).store = real;
      await g.dispose();
    });

    /** Run `hook` (once) before the store's `method` runs, for this test's calls. */
    const before1 = (method: keyof Store, hook: () => Promise<void>): void => void hookStoreOnce(g, real, method, hook);
    const restore = (): void => {
      (g.control.ctx as { store: Store }).store = real;
    };
    const post = (path: string) => esRaw(g, 'POST', path, { body: '{}', contentType: 'application/json' });
    /** Whether any live (not stopping, not deleted) deployment or worker of this name is left. */
    const running = async (name: string): Promise<boolean> => {
      const accountId = (await g.control.authenticate(g.adminKey)).accountId;
      for (const d of await real.listDeployments(accountId)) {
        const ep = await real.getEndpoint(d.endpointId);
        if (d.name === name && ep !== undefined && ep.target === 'running' && ep.status !== 'deleted') return true;
      }
      const ep = await real.findEndpointByName(accountId, name);
      return ep !== undefined && ep.target === 'running';
    };

    it('a delete that runs between the start’s model check and its deployment write: the start is 404, nothing runs', async () => {
      await uploadModel(c, 'victim', classifier, CLASSIFICATION);
      let deleted: { status: number; text: string } | null = null;
      before1('createDeployment', async () => {
        deleted = await esRaw(g, 'DELETE', '/_ml/trained_models/victim?force=true');
      });
      let start;
      try {
        start = await post('/_ml/trained_models/victim/deployment/_start?deployment_id=orphan1&wait_for=starting');
      } finally {
        restore();
      }
      assert.equal(deleted!.status, 200, deleted!.text);
      assert.equal(start.status, 404, start.text);
      assert.equal(start.body.error.type, 'resource_not_found_exception');
      assert.equal(start.body.error.reason, 'No known trained model with model_id [victim]');
      assert.equal((await esRaw(g, 'GET', '/_ml/trained_models/victim')).status, 404);
      assert.equal((await post('/_ml/trained_models/orphan1/_infer')).status >= 400, true);
      await until('the refused start leaves no endpoint running', async () => !(await running('orphan1')), 60_000);
    });

    it('a start that commits between the delete’s look at the deployments and its delete: the delete stops it too', async () => {
      await uploadModel(c, 'victim2', classifier, CLASSIFICATION);
      let start: { status: number; text: string } | null = null;
      before1('deleteTrainedModel', async () => {
        start = await post('/_ml/trained_models/victim2/deployment/_start?deployment_id=orphan2&wait_for=starting');
      });
      let del;
      try {
        del = await esRaw(g, 'DELETE', '/_ml/trained_models/victim2?force=true&timeout=60s');
      } finally {
        restore();
      }
      assert.equal(start!.status, 200, start!.text);
      assert.equal(del.status, 200, del.text);
      assert.equal((await esRaw(g, 'GET', '/_ml/trained_models/victim2')).status, 404);
      assert.equal(await running('orphan2'), false, 'the deployment started meanwhile is stopped by the delete');
      const infer = await esRaw(g, 'POST', '/_ml/trained_models/orphan2/_infer', {
        body: JSON.stringify({ docs: [{ text_field: 'x' }] }),
        contentType: 'application/json',
      });
      assert.notEqual(infer.status, 200, infer.text);
    });
  });
