import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { isGantryError } from '../../src/domain/errors.js';
import { sqliteDialect } from '../../src/store/dialects/sqlite.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';

/** The store with a bound on its file's size, as a full disk sets one (SQLite's max_page_count). */
class BoundedStore extends KyselyStore {
  async bound(extraPages: number | null): Promise<void> {
    const pages = (await sql<{ page_count: number }>`PRAGMA page_count`.execute(this.db)).rows[0]?.page_count ?? 0;
    await sql.raw(`PRAGMA max_page_count = ${extraPages === null ? 1_073_741_823 : pages + extraPages}`).execute(this.db);
  }

  async integrity(): Promise<string | undefined> {
    return (await sql<{ integrity_check: string }>`PRAGMA integrity_check`.execute(this.db)).rows[0]?.integrity_check;
  }
}

/**
 * SQLite's disk fills up (here: its file may not grow): writes answer 503 DATABASE_UNAVAILABLE with the
 * reason, not an internal error, and not a failed rollback hiding it; reads go on; writes work again once
 * there is room, and nothing half-written is left.
 */
describe('SQLite store on a full disk', () => {
  let dir: string;
  let store: BoundedStore;
  let accountId: number;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-sqlite-full-'));
    store = new BoundedStore(sqliteDialect(join(dir, 'gantry.db')));
    await store.migrate();
    accountId = (await store.createAccount({ username: 'ann', email: 'ann@x.io', isAdmin: false, now: 1 })).id;
  });
  after(async () => {
    await store.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('answers DATABASE_UNAVAILABLE with the reason for plain writes and transactions, and recovers', async () => {
    await store.bound(0);
    const key = (i: number, max?: number) =>
      store.createApiKey({
        accountId,
        keyHash: `h${i}`,
        name: 'k'.repeat(2000),
        scope: 'full',
        instanceId: null,
        now: 2,
        ...(max !== undefined && { maxPerAccount: max }),
      });
    const refused = async (write: () => Promise<unknown>): Promise<void> => {
      let err: unknown = null;
      for (let i = 0; i < 10_000 && err === null; i++) await write().catch((e: unknown) => (err = e));
      assert.ok(isGantryError(err), `a GantryError, got ${String(err)}`);
      assert.equal(err.code, 'DATABASE_UNAVAILABLE');
      assert.match(err.message, /the disk that holds it is full/);
    };
    let n = 0;
    await refused(() => key(n++)); // one statement
    await refused(() => key(n++, 1_000_000)); // a transaction (count, then insert): its rollback does not hide the reason
    // Reads go on.
    assert.equal((await store.getAccount(accountId))?.username, 'ann');
    await store.bound(null);
    const kept = await key(n++, 1_000_000);
    assert.equal(kept.accountId, accountId);
    assert.equal(await store.integrity(), 'ok');
  });
});
