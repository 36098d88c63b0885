import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { sql } from 'kysely';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { TEST_STORES } from '../helpers/stores.js';

/** The store with its database handle open to the test, to ask how a statement would be run. */
class PlannedStore extends KyselyStore {
  /** The plan, as one text. PostgreSQL is told not to scan tables, so a table of a few rows shows the index it could use. */
  async plan(postgres: boolean, query: string): Promise<string> {
    if (!postgres) {
      const r = await sql<{ detail: string }>`EXPLAIN QUERY PLAN ${sql.raw(query)}`.execute(this.db);
      return r.rows.map((row) => row.detail).join('\n');
    }
    return this.db.transaction().execute(async (trx) => {
      await sql`SET LOCAL enable_seqscan = off`.execute(trx);
      const r = await sql<{ 'QUERY PLAN': string }>`EXPLAIN ${sql.raw(query)}`.execute(trx);
      return r.rows.map((row) => row['QUERY PLAN']).join('\n');
    });
  }
}

/** Lookups on paths that run often are served by an index, not a scan of the table (migrations 0022, 0033, 0036). */
for (const ts of TEST_STORES) {
  describe(`store contract, indexes of hot lookups: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: PlannedStore;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-store-indexes-'));
      store = new PlannedStore(ts.dialect(await ts.fresh(dir)));
      await store.migrate();
      for (let r = 0; r < 3; r++) for (let e = 1; e <= 20; e++) await store.putGatewayPending(`replica-${r}`, e, 1, 1_000);
    });
    after(async () => {
      await store?.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("reads the gateways' holdings of one endpoint by its index (the table is keyed by replica first)", async () => {
      const plan = await store.plan(ts.name === 'postgres', 'SELECT sum(pending) FROM gateway_pending WHERE endpoint_id = 7');
      assert.match(plan, /gateway_pending_endpoint/, plan);
      assert.equal(await store.gatewayPendingElsewhere(7, 'replica-0', 0), 2);
    });

    it("reads an endpoint's and an account's live workergroups by an index of live rows, in id order", async () => {
      const postgres = ts.name === 'postgres';
      const live = 'SELECT * FROM workergroups WHERE deleted_at IS NULL';
      const byEndpoint = await store.plan(postgres, `${live} AND endpoint_id = 7 ORDER BY id`);
      assert.match(byEndpoint, /workergroups_endpoint/, byEndpoint);
      const byAccount = await store.plan(postgres, `${live} AND account_id = 3 ORDER BY id`);
      assert.match(byAccount, /workergroups_account/, byAccount);
      // The bounds count the same rows (workergroup-bounds.ts), the account's joined to their endpoints.
      const perEndpoint = await store.plan(postgres, 'SELECT count(*) FROM workergroups WHERE endpoint_id = 7 AND deleted_at IS NULL');
      assert.match(perEndpoint, /workergroups_endpoint/, perEndpoint);
      const perAccount = await store.plan(
        postgres,
        `SELECT count(*) FROM workergroups INNER JOIN endpoints ON endpoints.id = workergroups.endpoint_id
         WHERE workergroups.account_id = 3 AND workergroups.deleted_at IS NULL AND endpoints.status <> 'deleted'`,
      );
      assert.match(perAccount, /workergroups_account/, perAccount);
    });

    it("reads an endpoint's deployment and its workers by index", async () => {
      const postgres = ts.name === 'postgres';
      const live = await store.plan(postgres, 'SELECT * FROM deployments WHERE endpoint_id = 7 AND deleted_at IS NULL');
      assert.match(live, /deployments_endpoint/, live);
      const newest = await store.plan(postgres, 'SELECT * FROM deployments WHERE endpoint_id = 7 ORDER BY id DESC');
      assert.match(newest, /deployments_endpoint/, newest);
      const workers = await store.plan(postgres, "SELECT * FROM instances WHERE endpoint_id = 7 AND status != 'destroyed' ORDER BY id");
      assert.match(workers, /instances_endpoint/, workers);
    });
  });
}
