import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Change } from '../../src/store/change-feed.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { Store } from '../../src/store/store.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Every store write that changes what a key may do publishes `credential` with the account whose keys
 * it touched (decision 014): the principal caches of every replica depend on it.
 */
for (const ts of TEST_STORES) {
  describe(`store contract, credential changes: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: Store;
    let seen: Change[] = [];
    let ann: number;
    let bob: number;

    /** What `write` published on the credential topic (delivery is a microtask after the call). */
    const published = async (write: () => Promise<unknown>): Promise<(number | null)[]> => {
      seen = [];
      await write();
      await new Promise((r) => setImmediate(r));
      return seen.map((c) => c.id);
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-store-credentials-'));
      store = new KyselyStore(ts.dialect(await ts.fresh(dir)));
      await store.migrate();
      store.changes.subscribe('credential', (c) => seen.push(c));
      ann = (await store.createAccount({ username: 'ann', email: 'ann@x.io', isAdmin: false, now: 1 })).id;
      bob = (await store.createAccount({ username: 'bob', email: 'bob@x.io', isAdmin: false, now: 1 })).id;
    });
    after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('a key revoked or reset: its account; creating one publishes nothing', async () => {
      let id = 0;
      assert.deepEqual(
        await published(
          async () => (id = (await store.createApiKey({ accountId: ann, keyHash: 'k1', name: 'a', scope: 'full', instanceId: null, now: 1 })).id),
        ),
        [],
      );
      assert.deepEqual(await published(() => store.rotateApiKey(id, ann, 'k2')), [ann]);
      assert.deepEqual(await published(() => store.revokeApiKey(id, ann, 2)), [ann]);
      assert.deepEqual(await published(() => store.revokeApiKey(id, ann, 3)), [], 'nothing left to revoke: nothing changed');
    });

    it("an instance's keys revoked: their account, once", async () => {
      await store.createApiKey({ accountId: bob, keyHash: 'ik', name: 'instance', scope: 'instance', instanceId: 4242, now: 1 });
      assert.deepEqual(await published(() => store.revokeInstanceKeys(4242, 2)), [bob]);
      assert.equal(await store.findKeyWithAccount('ik'), undefined);
      assert.deepEqual(await published(() => store.revokeInstanceKeys(4242, 3)), []);
    });

    it('team roles and members, and the team itself: the team', async () => {
      const team = (await store.createAccount({ username: 'lab', email: 'ann@x.io', isAdmin: false, isTeam: true, now: 1 })).id;
      assert.deepEqual(await published(() => store.putTeamRole(team, 'viewer', { api: {} }, 'create')), [team]);
      assert.deepEqual(await published(() => store.putTeamRole(team, 'viewer', { api: { misc: {} } }, 'update')), [team]);
      assert.deepEqual(await published(() => store.addTeamMember(team, bob, 'viewer', 1)), [team]);
      assert.deepEqual(await published(() => store.removeTeamMember(team, bob, 2)), [team]);
      assert.deepEqual(await published(() => store.removeTeamMember(team, bob, 3)), []);
      assert.deepEqual(await published(() => store.deleteTeamRole(team, 'viewer')), [team]);
      assert.deepEqual(await published(() => store.deleteTeam(team, 4, bob)), [team]);
    });

    it('an account marked deleted: that account; a profile edit publishes nothing', async () => {
      assert.deepEqual(await published(() => store.updateAccountProfile(bob, { fullname: 'Bob' })), []);
      assert.deepEqual(await published(() => store.markAccountDeleted(bob, 5)), [bob]);
    });
  });
}
