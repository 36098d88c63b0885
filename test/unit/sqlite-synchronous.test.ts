import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Kysely, sql } from 'kysely';
import { sqliteDialect } from '../../src/store/dialects/sqlite.js';

/** SQLite's `synchronous` as the store opens it: FULL (2) unless `sqliteSynchronous` says normal (1). */
describe('sqliteSynchronous', () => {
  const dir = mkdtempSync(join(tmpdir(), 'gantry-sqlite-sync-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  const level = async (o?: { synchronous: 'full' | 'normal' }): Promise<number> => {
    const db = new Kysely<unknown>({ dialect: sqliteDialect(join(dir, `${o?.synchronous ?? 'default'}.db`), o).createKyselyDialect() });
    try {
      const r = await sql<{ synchronous: number }>`PRAGMA synchronous`.execute(db);
      return r.rows[0]?.synchronous ?? -1;
    } finally {
      await db.destroy();
    }
  };

  it('syncs every commit by default, at checkpoints when asked', async () => {
    assert.equal(await level(), 2);
    assert.equal(await level({ synchronous: 'full' }), 2);
    assert.equal(await level({ synchronous: 'normal' }), 1);
  });
});
