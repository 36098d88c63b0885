import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TemplateSpec } from '../../src/domain/instance/template.js';
import type { ExecutableSpec } from '../../src/domain/catalog/records.js';
import type { TrainedModelConfig } from '../../src/domain/ml/records.js';
import { DEFAULT_ENDPOINT_PARAMS } from '../../src/domain/serverless/params.js';
import type { WorkerTemplate } from '../../src/domain/serverless/records.js';
import type { Store } from '../../src/store/store.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { TEST_STORES } from '../helpers/stores.js';

const AT_ONCE = 8;
const MAX = 3;

const WORKER: WorkerTemplate = { image: 'img', env: {}, ports: [], onstart: null, args: null, diskGb: 8 };
const SPEC: TemplateSpec = {
  name: 'n',
  image: 'img',
  tag: null,
  env: null,
  onstart: null,
  runtype: 'ssh',
  argsStr: null,
  sshDirect: true,
  jupDirect: false,
  useSsh: true,
  useJupyterLab: false,
  jupyterDir: null,
  dockerLoginRepo: null,
  extraFilters: {},
  recommendedDiskSpace: 8,
  readme: null,
  readmeVisible: true,
  desc: 'd',
  href: null,
  repo: null,
};
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

    describe('workergroups', () => {
      const account = async (name: string) => (await store.createAccount({ username: name, email: `${name}@x`, isAdmin: false, now: 1 })).id;
      const endpoint = async (owner: number, name: string) =>
        (await store.createEndpoint({ accountId: owner, name, apiKey: `wg-${name}`, params: DEFAULT_ENDPOINT_PARAMS, aliasOf: null, now: 1 })).id;
      const group = (owner: number, endpointId: number, b: { maxPerAccount?: number; maxPerEndpoint?: number }) =>
        store.createWorkergroup({
          accountId: owner,
          endpointId,
          template: WORKER,
          placement: { conditions: [] },
          launchArgs: null,
          gpuRamGb: null,
          testWorkers: 0,
          now: 1,
          ...b,
        });

      it('of one endpoint; a deleted one frees its place, a move there counts as a create', async () => {
        const owner = await account('wg-endpoint');
        const ep = await endpoint(owner, 'one');
        assert.equal(await admitted('WORKERGROUP_LIMIT', () => group(owner, ep, { maxPerEndpoint: MAX })), MAX);
        const [first] = await store.listWorkergroups({ endpointId: ep });
        await store.deleteWorkergroup(first!.id, 2);
        await group(owner, ep, { maxPerEndpoint: MAX });
        await assert.rejects(group(owner, ep, { maxPerEndpoint: MAX }), { code: 'WORKERGROUP_LIMIT' });
        const other = await endpoint(owner, 'two');
        const moving = await group(owner, other, {});
        await assert.rejects(store.updateWorkergroup(moving.id, { endpointId: ep, maxPerEndpoint: MAX }), { code: 'WORKERGROUP_LIMIT' });
        assert.equal((await store.getWorkergroup(moving.id))?.endpointId, other, 'a refused move leaves it where it was');
        await store.updateWorkergroup(moving.id, { endpointId: ep, maxPerEndpoint: MAX + 1 });
        assert.equal((await store.listWorkergroups({ endpointId: ep })).length, MAX + 1);
      });

      it('of one account, over its endpoints; those of an endpoint being deleted count until it is gone', async () => {
        const owner = await account('wg-account');
        const [a, b] = [await endpoint(owner, 'three'), await endpoint(owner, 'four')];
        await group(owner, a, { maxPerAccount: MAX });
        assert.equal(await admitted('WORKERGROUP_LIMIT', () => group(owner, b, { maxPerAccount: MAX })), MAX - 1);
        const ep = (await store.getEndpoint(a))!;
        assert.ok(await store.writeEndpointIntent(a, ep.generation, { target: 'deleted', status: 'deleting', statusMsg: null, stop: null, now: 4 }));
        await assert.rejects(group(owner, b, { maxPerAccount: MAX }), { code: 'WORKERGROUP_LIMIT' });
        // The delete pass is done: its groups are removed and the endpoint is gone.
        for (const g of await store.listWorkergroups({ endpointId: a })) await store.deleteWorkergroup(g.id, 5);
        assert.ok(await store.writeEndpointIntent(a, ep.generation + 1, { target: 'deleted', status: 'deleted', statusMsg: null, stop: null, now: 5 }));
        await group(owner, b, { maxPerAccount: MAX });
        await assert.rejects(group(owner, b, { maxPerAccount: MAX }), { code: 'WORKERGROUP_LIMIT' });
      });
    });

    it('templates; a deleted one frees its place', async () => {
      const owner = (await store.createAccount({ username: 'tpl', email: 'tpl@x', isAdmin: false, now: 1 })).id;
      const create = (i: number) => store.createTemplate({ accountId: owner, hashId: `h${i}`, private: true, spec: SPEC, now: 1, maxPerAccount: MAX });
      assert.equal(await admitted('TEMPLATE_LIMIT', create), MAX);
      const [first] = await store.listVisibleTemplates(owner);
      assert.ok(await store.deleteTemplate(first!.id, 2));
      await create(100);
      await assert.rejects(create(101), { code: 'TEMPLATE_LIMIT' });
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
