import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTestGantry } from '../helpers/gantry.js';
import { ONE_STORE, TEST_STORES } from '../helpers/stores.js';

/**
 * The admin key of a first start is in `admin.key` before the database names it: a first start cut between the
 * two (a kill, a power loss) leaves the file, and the next start makes that key the admin's rather than a new
 * one whose predecessor nobody can use.
 */
for (const ts of ONE_STORE) {
  describe(`the admin key of a first start (${ts.name})`, { skip: ts.skip }, () => {
    it("a key file left by a start cut before its database was written becomes the admin's key", async () => {
      const dataDir = await mkdtemp(join(tmpdir(), 'gantry-admin-key-'));
      await writeFile(join(dataDir, 'admin.key'), 'gnt_kept_by_a_cut_start\n', { mode: 0o600 });
      const g = await startTestGantry(ts, { dataDir });
      try {
        assert.equal(g.adminKey, 'gnt_kept_by_a_cut_start');
        // Not "created now; shown only this once": the banner points at the file it came from.
        assert.equal(g.adminKeySource, 'file');
        assert.equal((await readFile(join(dataDir, 'admin.key'), 'utf8')).trim(), 'gnt_kept_by_a_cut_start');
        const me = await g.api('GET', '/api/v0/users/current/');
        assert.equal(me.status, 200, me.text);
      } finally {
        await g.dispose();
      }
    });
  });
}

const pg = TEST_STORES.find((t) => t.name === 'postgres');
describe('two first starts at once on one PostgreSQL', { skip: pg?.skip ?? 'no postgres' }, () => {
  it('make one admin: one shows the key it created, the other keeps no key file whose key names no account', async () => {
    const first = await mkdtemp(join(tmpdir(), 'gantry-admin-key-a-'));
    const database = await pg!.fresh(first);
    const starts = await Promise.all(
      [first, await mkdtemp(join(tmpdir(), 'gantry-admin-key-b-'))].map((dataDir) => startTestGantry(pg!, { dataDir, database, localHost: false })),
    );
    try {
      const made = starts.filter((g) => g.adminKeySource === 'created');
      assert.equal(made.length, 1, starts.map((g) => g.adminKeySource).join(', '));
      const other = starts.find((g) => g !== made[0])!;
      if (other.adminKeySource !== 'created') {
        // The one that found the admin made meanwhile: before, its admin.key held a key that worked nowhere.
        assert.equal(other.adminKeySource, 'none');
        assert.equal(await readFile(other.adminKeyFile, 'utf8').catch(() => null), null);
      }
      assert.equal((await made[0]!.api('GET', '/api/v0/users/current/')).status, 200);
    } finally {
      for (const g of starts) await g.dispose();
    }
  });
});
