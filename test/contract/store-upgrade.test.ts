import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Kysely, Migrator } from 'kysely';
import { DEFAULT_PLACEMENT } from '../../src/domain/offer/search.js';
import { createLogger } from '../../src/log/logger.js';
import { upgradeStoredData } from '../../src/main/upgrade.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { migrations } from '../../src/store/kysely/migrations.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * A database written by the release before typed placements and stop phases (migrations up to 0004):
 * migrating and starting keeps every row, compiles stored search text into placements, and puts a
 * stop under way into its first phase.
 */
for (const ts of TEST_STORES) {
  describe(`upgrading a database from before 0005 (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let location: string;
    let store: KyselyStore;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-upgrade-'));
      location = await ts.fresh(dir);
      const d = ts.dialect(location);
      const db = new Kysely<any>({ dialect: d.createKyselyDialect() });
      const { error } = await new Migrator({ db, provider: migrations(d) }).migrateTo('0004_tenancy');
      assert.equal(error, undefined);
      const account = await db
        .insertInto('accounts')
        .values({ username: 'old', email: 'old@localhost', is_admin: 1, balance: 0, created_at: 1 })
        .returning('id')
        .executeTakeFirstOrThrow();
      const endpoint = (status: string, name: string) => ({
        account_id: account.id,
        name,
        live_name: name,
        api_key: `gek_${name}`,
        params_json: '{}',
        target: status === 'stopping' ? 'stopped' : 'running',
        status,
        generation: 1,
        stop_drain: status === 'stopping' ? 1 : 0,
        stop_deadline: status === 'stopping' ? 10_000 : null,
        stop_requested_at: status === 'stopping' ? 1 : null,
        memory_json: '{}',
        last_activity_at: 1,
        created_at: 1,
        updated_at: 1,
        last_processed_at: 1,
      });
      const running = await db.insertInto('endpoints').values(endpoint('running', 'kept')).returning('id').executeTakeFirstOrThrow();
      await db.insertInto('endpoints').values(endpoint('stopping', 'halfway')).execute();
      const group = (search: string) => ({
        account_id: account.id,
        endpoint_id: running.id,
        template_json: JSON.stringify({ image: 'img', env: {}, ports: [], onstart: null, args: null, diskGb: 8 }),
        search_params: search,
        test_workers: 3,
        created_at: 1,
      });
      await db.insertInto('workergroups').values(group('num_gpus>=2 gpu_ram>=20 verified=true')).execute();
      await db.insertInto('workergroups').values(group('num_gpus>=')).execute();
      await db.destroy();
      store = new KyselyStore(ts.dialect(location));
      await store.migrate();
    });
    after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('reads an uncompiled placement as the default one, never as "any machine"', async () => {
      const [first] = await store.listWorkergroups({});
      assert.deepEqual(first?.placement, DEFAULT_PLACEMENT);
      assert.equal((await store.legacyWorkergroupSearches()).length, 2);
    });

    it('compiles stored search text at start, keeps the default for text that does not parse, and is idempotent', async () => {
      await upgradeStoredData(store, createLogger('silent'));
      const [good, bad] = await store.listWorkergroups({});
      assert.deepEqual(good?.placement.conditions, [
        { field: 'numGpus', op: 'gte', value: 2 },
        { field: 'gpuRamMb', op: 'gte', value: 20_000 },
        { field: 'verified', op: 'eq', value: true },
      ]);
      assert.deepEqual(bad?.placement, DEFAULT_PLACEMENT);
      assert.deepEqual(await store.legacyWorkergroupSearches(), []);
      await upgradeStoredData(store, createLogger('silent'));
      assert.deepEqual((await store.listWorkergroups({}))[0]?.placement, good?.placement);
    });

    it('keeps every endpoint; a stop under way restarts its phases with its drain deadline', async () => {
      const eps = await store.listEndpoints(null);
      assert.deepEqual(eps.map((e) => [e.name, e.status]).sort(), [
        ['halfway', 'stopping'],
        ['kept', 'running'],
      ]);
      const halfway = eps.find((e) => e.name === 'halfway');
      assert.equal(halfway?.stopPhase, 'closing');
      assert.equal(halfway?.stopDeadline, 10_000);
      assert.equal(eps.find((e) => e.name === 'kept')?.stopPhase, null);
    });
  });
}
