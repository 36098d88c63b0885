import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { DEFAULT_PLACEMENT } from '../../src/domain/offer/search.js';
import { DEFAULT_ENDPOINT_PARAMS } from '../../src/domain/serverless/params.js';
import type { Store } from '../../src/store/store.js';
import { twoReplicas, type TwoReplicas } from '../helpers/replicas.js';
import { EMBEDDING_CONFIG } from '../helpers/elastic-models.js';
import { TEST_STORES } from '../helpers/stores.js';

const CONFIG = EMBEDDING_CONFIG;

/**
 * A deployment that serves a trained model is written only while its model exists and is fully defined,
 * and in the same transaction as that check: a model delete racing it either comes after it (and sees
 * the deployment) or makes it fail. On every adapter, across two handles (two replicas).
 */
for (const ts of TEST_STORES) {
  describe(`trained-model deployment guard: ${ts.name}`, { skip: ts.skip }, () => {
    let store: Store;
    let other: Store;
    let acct: number;
    let n = 0;

    let replicas: TwoReplicas;
    before(async () => {
      replicas = await twoReplicas(ts, 'ml-guard');
      ({ store, other, accountId: acct } = replicas);
    });
    after(() => replicas?.close());

    const definedModel = async (modelId: string, defined = true): Promise<void> => {
      await store.createTrainedModel({ accountId: acct, modelId, config: CONFIG, now: 1 });
      await store.putModelPart(
        acct,
        modelId,
        { index: 0, totalParts: 1, totalDefinitionLength: 1, bytes: new Uint8Array([1]) },
        { now: 1, maxAccountBytes: 0 },
      );
      await store.setModelDefinitionChecked(acct, modelId, { fullyDefined: defined, onnx: null });
    };
    /** Endpoint and workergroup as the use case makes them, then the deployment row that serves `modelId`. */
    const deploy = async (s: Store, modelId: string): Promise<{ name: string; created: boolean; error?: unknown }> => {
      const name = `dep${++n}`;
      const ep = await s.createEndpoint({ accountId: acct, name, apiKey: `gek_guard_${n}`, params: DEFAULT_ENDPOINT_PARAMS, aliasOf: null, now: 1 });
      const wg = await s.createWorkergroup({
        accountId: acct,
        endpointId: ep.id,
        template: { image: 'x', env: { GANTRY_MODEL_ID: modelId }, ports: [], onstart: null, args: null, diskGb: 1 },
        placement: DEFAULT_PLACEMENT,
        launchArgs: null,
        gpuRamGb: null,
        testWorkers: 0,
        now: 1,
      });
      try {
        await s.createDeployment({ accountId: acct, name, tag: 'default', endpointId: ep.id, workergroupId: wg.id, servesModel: modelId, now: 1 });
        return { name, created: true };
      } catch (error) {
        return { name, created: false, error };
      }
    };
    const code = (e: unknown): string | undefined => (e instanceof GantryError ? e.code : undefined);
    const names = async (s: Store): Promise<string[]> => (await s.listDeployments(acct)).map((d) => d.name);

    it('writes the deployment of a fully defined model; refuses one of a model missing or not fully defined, writing nothing', async () => {
      await definedModel('ok');
      const ok = await deploy(store, 'ok');
      assert.equal(ok.created, true);
      const missing = await deploy(other, 'nope');
      assert.equal(code(missing.error), 'MODEL_NOT_FOUND');
      assert.equal((missing.error as Error).message, 'No known trained model with model_id [nope]');
      await definedModel('refused', false);
      const refused = await deploy(store, 'refused');
      assert.equal(code(refused.error), 'MODEL_DEFINITION_MISSING');
      assert.equal((refused.error as Error).message, 'Could not find trained model definition [refused]');
      assert.deepEqual(await names(other), [ok.name]);
      // Deleted, the model takes no deployment any more, whichever replica writes it.
      assert.equal(await other.deleteTrainedModel(acct, 'ok'), true);
      assert.equal(code((await deploy(store, 'ok')).error), 'MODEL_NOT_FOUND');
    });

    it('a delete racing deployment writes on another replica: every deployment written is seen by a look right after the delete', async () => {
      // SQLite serves one process: two handles would wait on each other's write lock on the one thread, so there the race runs on one handle.
      const second = ts.name === 'sqlite' ? store : other;
      for (let i = 0; i < 8; i++) {
        const modelId = `raced${i}`;
        await definedModel(modelId);
        const [deployments, seen] = await Promise.all([
          Promise.all([deploy(store, modelId), deploy(store, modelId)]),
          (async () => {
            assert.equal(await second.deleteTrainedModel(acct, modelId), true);
            return names(second);
          })(),
        ]);
        for (const d of deployments) {
          if (d.created) assert.ok(seen.includes(d.name), `${d.name} was written after the delete's look`);
          else assert.equal(code(d.error), 'MODEL_NOT_FOUND', String(d.error));
        }
      }
    });
  });
}
