import assert from 'node:assert/strict';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { startTestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

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
        assert.equal((await readFile(join(dataDir, 'admin.key'), 'utf8')).trim(), 'gnt_kept_by_a_cut_start');
        const me = await g.api('GET', '/api/v0/users/current/');
        assert.equal(me.status, 200, me.text);
      } finally {
        await g.dispose();
      }
    });
  });
}
