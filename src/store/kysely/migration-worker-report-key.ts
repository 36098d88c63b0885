import { sql, type Kysely, type Migration } from 'kysely';
import { ROUTE_KEYS_SINCE } from '../../domain/serverless/route-keys.js';

/**
 * 0039: endpoint signing keys (src/gateway/route-keys.ts).
 * - `worker_reports.keyed`: the worker reported through its endpoint's report address, so it checks hand-outs
 *   with its endpoint's key.
 * - the setting `route_keys_since`: this upgrade's time. A worker instance created before it was started with the
 *   server's address and key, and is signed for with the server's key until it reports through its endpoint's
 *   address (a restart gives it one); every instance created since, with its endpoint's, wherever it reports (one
 *   that reports to /worker_status/ itself would otherwise get grants of the server's key, which open the older
 *   workers).
 */
export const workerReportKeyMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('worker_reports')
      .addColumn('keyed', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await sql`INSERT INTO settings (key, value) VALUES (${ROUTE_KEYS_SINCE}, ${String(Date.now())}) ON CONFLICT (key) DO NOTHING`.execute(db);
  },
};
