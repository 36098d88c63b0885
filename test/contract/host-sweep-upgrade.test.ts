import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Kysely, Migrator } from 'kysely';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { migrations } from '../../src/store/kysely/migrations.js';
import { machineReg } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Migration 0027 (decision 022): the host sweep's lease and stamp move from the machine rows to
 * `host_sweeps`. A stamp written before is kept; a machine never swept gets its row from its first claim.
 */
for (const ts of TEST_STORES) {
  describe(`the host sweep's own table, after an upgrade (${ts.name})`, { skip: ts.skip }, () => {
    const dirs: string[] = [];
    after(async () => {
      for (const d of dirs) await rm(d, { recursive: true, force: true });
    });

    it('keeps when each host was last swept, and claims hosts as before', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gantry-sweep-upgrade-'));
      dirs.push(dir);
      const location = await ts.fresh(dir);
      const d = ts.dialect(location);
      const db = new Kysely<any>({ dialect: d.createKyselyDialect() });
      try {
        assert.equal((await new Migrator({ db, provider: migrations(d) }).migrateTo('0026_series')).error, undefined);
        const owner = await db
          .insertInto('accounts')
          .values({ username: 'host', email: 'host@localhost', is_admin: 0, balance: 0, created_at: 1 })
          .returning('id')
          .executeTakeFirstOrThrow();
        const store = new KyselyStore(d);
        try {
          const swept = (await store.registerMachine(machineReg('swept', owner.id), 1)).id;
          const never = (await store.registerMachine(machineReg('never', owner.id), 1)).id;
          await db.updateTable('machines').set({ last_swept_at: 500, lease_token: 'old' }).where('id', '=', swept).execute();
          await store.migrate();

          assert.deepEqual(await db.selectFrom('host_sweeps').select(['id', 'last_swept_at', 'lease_token']).execute(), [
            { id: swept, last_swept_at: 500, lease_token: null },
          ]);

          const claim = (sweptBefore: number) =>
            store.claimHostSweeps({ owner: 'r', now: 1000, leaseMs: 5000, sweptBefore, limit: 10, machineIds: [swept, never] });
          const first = await claim(400);
          assert.deepEqual(first.machineIds, [never], 'swept at 500: not due before it');
          assert.equal((await db.selectFrom('host_sweeps').selectAll().execute()).length, 2, 'the first claim made the row');
          await store.finishHostSweeps(first.token, first.machineIds, 1000);
          assert.deepEqual((await claim(600)).machineIds, [swept]);
        } finally {
          await store.close();
        }
      } finally {
        await db.destroy();
      }
    });
  });
}
