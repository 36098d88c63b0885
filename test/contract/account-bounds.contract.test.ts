import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ExecutableSpec } from '../../src/domain/catalog/records.js';
import type { TrainedModelConfig } from '../../src/domain/ml/records.js';
import { DEFAULT_ENDPOINT_PARAMS } from '../../src/domain/serverless/params.js';
import type { Store } from '../../src/store/store.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { TEST_STORES } from '../helpers/stores.js';

const AT_ONCE = 8;
const MAX = 3;

function executable(id: string): ExecutableSpec {
  return {
    id,
    name: id,
    description: null,
    scenarioId: 'scn',
    scenarioName: 'scn',
    scenarioDescription: null,
    versionId: '1',
    labels: [],
    parameters: [],
    inputArtifacts: [],
    predictor: { minReplicas: 1, maxReplicas: 1, image: 'x', command: [], args: [], env: [], ports: [], resources: null },
    resourcePlan: null,
    annotations: {},
    sourceFile: `${id}.yaml`,
  };
}

/** How many of the creations made at once succeeded; every other one was refused with `code`. */
async function admitted(code: string, create: (i: number) => Promise<unknown>): Promise<number> {
  const out = await Promise.allSettled(Array.from({ length: AT_ONCE }, (_, i) => create(i)));
  for (const o of out) if (o.status === 'rejected') assert.equal((o.reason as { code?: string }).code, code, String(o.reason));
  return out.filter((o) => o.status === 'fulfilled').length;
}

/**
 * The bounds on what one account holds were counted, then inserted: creations at once (on PostgreSQL, where
 * several replicas share the database) each counted the others' rows as not there yet, and together passed
 * the bound. Each creation now holds the account's row while it counts and inserts.
 */
for (const ts of TEST_STORES) {
  describe(`bounds on what one account holds, under creations at once: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: Store;
    let accountId: number;
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-bounds-'));
      store = new KyselyStore(ts.dialect(await ts.fresh(dir)));
      await store.migrate();
      accountId = (await store.createAccount({ username: 'u', email: 'u@x', isAdmin: false, now: 1 })).id;
    });
    after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('API keys', async () => {
      const n = await admitted('API_KEY_LIMIT', (i) =>
        store.createApiKey({ accountId, keyHash: `k${i}`, name: 'k', scope: 'full', instanceId: null, now: 1, maxPerAccount: MAX }),
      );
      assert.equal(n, MAX);
    });

    it('host tokens', async () => {
      assert.equal(await admitted('HOST_TOKEN_LIMIT', (i) => store.createHostToken({ accountId, tokenHash: `t${i}`, name: 'h', now: 1, maxLive: MAX })), MAX);
    });

    it('SSH keys', async () => {
      assert.equal(await admitted('SSH_KEY_LIMIT', (i) => store.createSshKey(accountId, `ssh-ed25519 AAAA${i} k`, 1, MAX)), MAX);
    });

    it('endpoints', async () => {
      const n = await admitted('ENDPOINT_LIMIT', (i) =>
        store.createEndpoint({ accountId, name: `ep${i}`, apiKey: `key${i}`, params: DEFAULT_ENDPOINT_PARAMS, aliasOf: null, now: 1, maxPerAccount: MAX }),
      );
      assert.equal(n, MAX);
    });

    it('trained models; an id taken is MODEL_EXISTS, not the bound', async () => {
      const config: TrainedModelConfig = {
        modelType: 'onnx',
        description: null,
        tags: [],
        metadata: null,
        inferenceConfig: { pass_through: {} },
        inputFieldNames: ['text_field'],
        declaredSizeBytes: 0,
      };
      const create = (i: number) => store.createTrainedModel({ accountId, modelId: `m${i}`, config, now: 1, max: MAX });
      assert.equal(await admitted('TRAINED_MODEL_LIMIT', create), MAX);
      const [first] = await store.listTrainedModels(accountId);
      await assert.rejects(create(Number(first?.modelId.slice(1))), { code: 'MODEL_EXISTS' });
    });

    it('AI Core resource groups; a stored default takes no place', async () => {
      const group = (id: string, max = MAX) => store.createResourceGroup({ accountId, id, labels: [], createdAt: 1 }, max);
      await group('default', 0);
      assert.equal(await admitted('RESOURCE_GROUP_LIMIT', (i) => group(`rg-${i}`)), MAX);
      const [taken] = (await store.listResourceGroups(accountId)).filter((x) => x.id !== 'default');
      await assert.rejects(group(taken?.id as string), { code: 'RESOURCE_GROUP_EXISTS' }, 'an id taken is RESOURCE_GROUP_EXISTS, not the bound');
    });

    it('AI Core configurations and artifacts, over all resource groups', async () => {
      const n = await admitted('CONFIGURATION_LIMIT', (i) =>
        store.createConfiguration(
          {
            id: `c${i}`,
            accountId,
            resourceGroup: `g${i % 2}`,
            name: 'c',
            executableId: 'e',
            scenarioId: 's',
            parameterBindings: [],
            inputArtifactBindings: [],
            createdAt: 1,
          },
          MAX,
        ),
      );
      assert.equal(n, MAX);
      const artifact = (i: number) =>
        store.createArtifact(
          {
            id: `a${i}`,
            accountId,
            resourceGroup: `g${i % 2}`,
            name: 'a',
            kind: 'model',
            url: 'file:///a',
            scenarioId: 's',
            description: null,
            labels: [],
            createdAt: 1,
            modifiedAt: 1,
          },
          MAX,
        );
      assert.equal(await admitted('ARTIFACT_LIMIT', artifact), MAX);
    });

    it('AI Core executables: a load counts all its templates, those it replaces take no more room, none of a refused one is stored', async () => {
      const load = (ids: string[], application: string | null = null) => store.putExecutables(accountId, ids.map(executable), { application }, 1, MAX);
      // Two templates each: of the loads at once, only one fits beside what is there.
      await load(['e-0']);
      const n = await admitted('EXECUTABLE_LIMIT', (i) => load([`e-${i}a`, `e-${i}b`]));
      assert.equal(n, 1);
      assert.equal((await store.listExecutables(accountId)).length, MAX);
      await assert.rejects(load(['e-0', 'e-new']), { code: 'EXECUTABLE_LIMIT' });
      const held = (await store.listExecutables(accountId)).map((e) => e.id);
      assert.equal((await load(held)).length, MAX, 'replacing them all passes');
      // An application's sync replaces its own executables: they take no more room than before.
      const other = (await store.createAccount({ username: 'apps', email: 'apps@x', isAdmin: false, now: 1 })).id;
      const sync = (ids: string[]) => store.putExecutables(other, ids.map(executable), { application: 'app' }, 1, MAX);
      await sync(['s-1', 's-2', 's-3']);
      await sync(['s-4', 's-5', 's-6']);
      await assert.rejects(sync(['s-1', 's-2', 's-3', 's-4']), { code: 'EXECUTABLE_LIMIT' });
      assert.deepEqual(
        (await store.listExecutables(other)).map((e) => e.id),
        ['s-4', 's-5', 's-6'],
      );
    });

    it('ingest pipelines; a replacement passes at the bound', async () => {
      const body = { processors: [] };
      assert.equal(await admitted('PIPELINE_LIMIT', (i) => store.putPipeline(accountId, `p${i}`, body, 1, MAX)), MAX);
      const [first] = await store.listPipelines(accountId);
      assert.deepEqual((await store.putPipeline(accountId, first?.id as string, { processors: [], description: 'again' }, 2, MAX)).body, {
        processors: [],
        description: 'again',
      });
    });

    it('subaccounts, counted in the whole tree', async () => {
      const n = await admitted('ACCOUNT_LIMIT', (i) =>
        store.createAccount({ username: `sub${i}`, email: `s${i}@x`, isAdmin: false, now: 1, parentId: accountId, maxInTree: MAX }),
      );
      assert.equal(n, MAX);
    });
  });
}
