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

    it('a first start cut before the database named its key writes nothing; two first starts at once make one admin', async () => {
      // Its own database (on SQLite, replicaPlane shares the first store of the list it is given).
      const fresh = await ts.fresh(dir);
      const own: KyselyStore[] = [];
      const [x, y] = [await replicaPlane(ts, own, fresh, dir, {}), await replicaPlane(ts, own, fresh, dir, {})];
      try {
        // The key is made (by `gantry up`: kept in its file) before anything is written.
        await assert.rejects(
          x.bootstrapAdmin(null, () => Promise.reject(new Error('killed'))),
          /killed/,
        );
        assert.equal(await x.ctx.store.findAccountByUsername('admin'), undefined, 'no admin without a key');
        // Two replicas' first starts at once on one database: one makes the admin, the other finds it.
        const [a, b] = await Promise.all([x.bootstrapAdmin(null, async () => 'key-x'), y.bootstrapAdmin(null, async () => 'key-y')]);
        assert.equal(a.accountId, b.accountId);
        const made = [a.createdKey, b.createdKey].filter((k) => k !== null);
        assert.equal(made.length, 1, JSON.stringify([a, b]));
        assert.equal((await x.authenticate(made[0] as string)).accountId, a.accountId);
      } finally {
        x.agents.close();
        y.agents.close();
        for (const st of own) await st.close();
      }
    });
  });
}
