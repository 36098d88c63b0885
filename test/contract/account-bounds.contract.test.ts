import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { TrainedModelConfig } from '../../src/domain/ml/records.js';
import { DEFAULT_ENDPOINT_PARAMS } from '../../src/domain/serverless/params.js';
import type { Store } from '../../src/store/store.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { TEST_STORES } from '../helpers/stores.js';

const AT_ONCE = 8;
const MAX = 3;

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

    it('subaccounts, counted in the whole tree', async () => {
      const n = await admitted('ACCOUNT_LIMIT', (i) =>
        store.createAccount({ username: `sub${i}`, email: `s${i}@x`, isAdmin: false, now: 1, parentId: accountId, maxInTree: MAX }),
      );
      assert.equal(n, MAX);
    });
  });
}
