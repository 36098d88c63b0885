import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/** Issue 14: a bounded number of keys per account, and a subaccount refused for credit leaves nothing behind. */
for (const ts of TEST_STORES) {
  describe(`account bounds (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    const as = (key: string) => (method: string, path: string, body?: unknown) => g.api(method, path, body, { key });
    let parent: { id: number; key: string };

    before(async () => {
      g = await startTestGantry(ts, { localHost: false, settings: { maxApiKeysPerAccount: 4 } });
      const r = await g.api('POST', '/api/v0/users/', { username: 'parent', credit: 1 });
      assert.equal(r.status, 200, r.text);
      parent = { id: r.body.id as number, key: r.body.api_key as string };
    });
    after(() => g.dispose());

    it('a subaccount refused for credit (402) leaves no account and no key; a retry with enough credit succeeds', async () => {
      const refused = await as(parent.key)('POST', '/api/v0/users/', { username: 'kid', parent_id: 'me', credit: 5 });
      assert.equal(refused.status, 402, refused.text);
      assert.equal(await g.store.findAccountByUsername('kid'), undefined, 'the account is gone with the refused transfer');
      assert.deepEqual((await as(parent.key)('GET', '/api/v0/subaccounts/')).body.users, []);
      assert.equal((await as(parent.key)('GET', '/api/v0/users/current/')).body.credit, 1, 'no credit moved');
      const ok = await as(parent.key)('POST', '/api/v0/users/', { username: 'kid', parent_id: 'me', credit: 0.5 });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await as(ok.body.api_key as string)('GET', '/api/v0/users/current/')).body.credit, 0.5);
      const kid = await g.store.findAccountByUsername('kid');
      assert.equal((await g.store.listApiKeys(kid?.id ?? -1)).length, 1, 'one key: the one shown');
    });

    it('an account holds at most maxApiKeysPerAccount keys, service keys included; revoking one frees a place', async () => {
      const u = await g.api('POST', '/api/v0/users/', { username: 'keyful', credit: 1 });
      const call = as(u.body.api_key as string);
      // The first key came with the account; two more through Vast, one service key through AI Core: 4.
      for (const name of ['k2', 'k3']) assert.equal((await call('POST', '/api/v0/auth/apikeys/', { name })).status, 200);
      const sk = await call('POST', '/v2/admin/serviceKeys', {});
      assert.equal(sk.status, 201, sk.text);
      const more = await call('POST', '/api/v0/auth/apikeys/', { name: 'k5' });
      assert.equal(more.status, 400, more.text);
      assert.equal(more.body.error, 'max_api_keys');
      assert.match(more.body.msg as string, /at most 4 API keys/);
      const aicore = await call('POST', '/v2/admin/serviceKeys', {});
      assert.equal(aicore.status, 400, aicore.text);
      assert.match(aicore.body.error.message as string, /at most 4 API keys/);
      const keys = (await call('GET', '/api/v0/auth/apikeys/')).body.apikeys as { id: number; name: string }[];
      assert.equal(keys.length, 4);
      const k2 = keys.find((k) => k.name === 'k2');
      assert.equal((await call('DELETE', `/api/v0/auth/apikeys/${k2?.id}/`)).status, 200);
      assert.equal((await call('POST', '/api/v0/auth/apikeys/', { name: 'k5' })).status, 200);
    });
  });
}
