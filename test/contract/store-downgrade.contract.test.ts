import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { TEST_STORES } from '../helpers/stores.js';

/** The store with its database handle open to the test, to write what a later version would. */
class RawStore extends KyselyStore {
  async recordMigration(name: string): Promise<void> {
    await sql`INSERT INTO kysely_migration (name, timestamp) VALUES (${name}, '2030-01-01T00:00:00.000Z')`.execute(this.db);
  }
}

/**
 * Data a newer Gantry migrated, opened by this one (a downgrade): refused with a message that says so,
 * and the data left as it was.
 */
for (const ts of TEST_STORES) {
  describe(`store contract, a database from a newer version: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let location: string;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-store-downgrade-'));
      location = await ts.fresh(dir);
    });
    after(async () => {
      await rm(dir, { recursive: true, force: true });
    });

    it('refuses to start on it, says it is a downgrade, and changes nothing', async () => {
      const newer = new RawStore(ts.dialect(location));
      await newer.migrate();
      const ann = await newer.createAccount({ username: 'ann', email: 'ann@x.io', isAdmin: false, now: 1 });
      // What a later version leaves behind: one more migration recorded as run.
      await newer.recordMigration('9999_from_a_later_version');
      await newer.close();

      const older = new KyselyStore(ts.dialect(location));
      try {
        await assert.rejects(older.migrate(), (err: Error) => {
          assert.match(err.message, /migrated by a newer Gantry \(its migration 9999_from_a_later_version is unknown to this version\)/);
          assert.match(err.message, /downgrades are not supported/);
          assert.doesNotMatch(err.message, /corrupted/);
          return true;
        });
        assert.equal((await older.getAccount(ann.id))?.username, 'ann');
      } finally {
        await older.close();
      }
    });
  });
}
