import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ControlPlane } from '../../src/control/control-plane.js';
import { hashKey } from '../../src/control/keys.js';
import { GantryError } from '../../src/domain/errors.js';
import { type KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { replicaPlane } from '../helpers/replica.js';
import { TEST_STORES } from '../helpers/stores.js';

/** GANTRY_ADMIN_KEY at each start: added when new, kept when live, never made again once deleted. */
for (const ts of TEST_STORES) {
  describe(`the admin key a start is given (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let cp: ControlPlane;
    const stores: KyselyStore[] = [];
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-bootstrap-'));
      cp = await replicaPlane(ts, stores, await ts.fresh(dir), dir, {});
    });
    after(async () => {
      cp.agents.close();
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('a key deleted through the API is refused at the next start with a clear reason, not made again; a new key is added', async () => {
      const first = await cp.bootstrapAdmin('preset-key');
      assert.equal(first.createdKey, 'preset-key');
      assert.equal((await cp.bootstrapAdmin('preset-key')).createdKey, null, 'a live key is kept');
      const key = await cp.ctx.store.findApiKeyByHash(hashKey('preset-key'));
      assert.ok(key);
      assert.equal(await cp.ctx.store.revokeApiKey(key.id, first.accountId, Date.now()), true);
      assert.equal(await cp.ctx.store.findApiKeyByHash(hashKey('preset-key')), undefined, 'revoked: not live');
      assert.equal((await cp.ctx.store.findApiKeyByHash(hashKey('preset-key'), { revoked: true }))?.id, key.id);
      await assert.rejects(
        cp.bootstrapAdmin('preset-key'),
        (e: unknown) => e instanceof GantryError && e.code === 'INVALID_ARGUMENT' && /GANTRY_ADMIN_KEY names an API key that was deleted/.test(e.message),
      );
      await assert.rejects(cp.authenticate('preset-key'));
      assert.equal((await cp.bootstrapAdmin('another-key')).createdKey, null);
      assert.equal((await cp.authenticate('another-key')).accountId, first.accountId);
    });
  });
}
