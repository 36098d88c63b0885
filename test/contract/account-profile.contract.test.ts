import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { Store } from '../../src/store/store.js';
import { TEST_STORES } from '../helpers/stores.js';

/** What Vast's `set user`, `reset api-key` and `show ipaddrs` need of the store, on every adapter. */
for (const ts of TEST_STORES) {
  describe(`store contract, account profile: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: Store;
    let ann: number;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-store-profile-'));
      store = new KyselyStore(ts.dialect(await ts.fresh(dir)));
      await store.migrate();
      ann = (await store.createAccount({ username: 'ann', email: 'ann@x.io', isAdmin: false, now: 1 })).id;
      await store.createAccount({ username: 'bob', email: 'bob@x.io', isAdmin: false, now: 1 });
    });
    after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('changes email and full name; a taken email changes nothing', async () => {
      assert.equal((await store.getAccount(ann))?.fullname, null);
      const a = await store.updateAccountProfile(ann, { email: 'ann@y.io', fullname: 'Ann' });
      assert.deepEqual([a.email, a.fullname], ['ann@y.io', 'Ann']);
      await assert.rejects(
        store.updateAccountProfile(ann, { email: 'bob@x.io', fullname: 'Other' }),
        (e: unknown) => e instanceof GantryError && e.code === 'USER_EXISTS',
      );
      const kept = await store.getAccount(ann);
      assert.deepEqual([kept?.email, kept?.fullname], ['ann@y.io', 'Ann']);
      assert.equal((await store.updateAccountProfile(ann, { fullname: null })).fullname, null);
    });

    it('rotates a held key in place: the old hash is gone, the id and name stay', async () => {
      const k = await store.createApiKey({ accountId: ann, keyHash: 'old', name: 'ci', scope: 'full', instanceId: null, now: 1 });
      assert.equal(await store.rotateApiKey(k.id, ann + 1000, 'stolen'), false, 'only its holder rotates it');
      assert.equal(await store.rotateApiKey(k.id, ann, 'new'), true);
      assert.equal(await store.findKeyWithAccount('old'), undefined);
      const found = await store.findKeyWithAccount('new');
      assert.deepEqual([found?.key.id, found?.key.name, found?.account.fullname], [k.id, 'ci', null]);
      await store.revokeApiKey(k.id, ann, 2);
      assert.equal(await store.rotateApiKey(k.id, ann, 'again'), false, 'a revoked key stays revoked');
    });

    it('lists the addresses audited calls came from, first and last seen, most recent first', async () => {
      const entry = { accountId: ann, actorId: ann, keyId: null, method: 'PUT', path: '/x', route: '/x', statusCode: 200, errorCode: null, requestId: 'r' };
      await store.recordAudit({ ...entry, at: 1000, ip: '10.0.0.1' });
      await store.recordAudit({ ...entry, at: 2000, ip: '10.0.0.2' });
      await store.recordAudit({ ...entry, at: 3000, ip: '10.0.0.1' });
      await store.recordAudit({ ...entry, at: 4000, ip: '10.0.0.9', accountId: ann + 1 });
      assert.deepEqual(await store.listAuditAddresses([ann], 10), [
        { ip: '10.0.0.1', firstSeen: 1000, lastSeen: 3000 },
        { ip: '10.0.0.2', firstSeen: 2000, lastSeen: 2000 },
      ]);
      assert.equal((await store.listAuditAddresses([ann], 1)).length, 1);
      assert.deepEqual(await store.listAuditAddresses([], 10), []);
    });
  });
}
