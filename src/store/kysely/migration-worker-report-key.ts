import { sql, type Kysely, type Migration } from 'kysely';
import { ROUTE_KEYS_AFTER_INSTANCE } from '../../domain/serverless/route-keys.js';

/**
 * 0039: endpoint signing keys (src/gateway/route-keys.ts).
 * - `worker_reports.keyed`: the worker reported through its endpoint's report address, so it checks hand-outs
 *   with its endpoint's key.
 * - the setting `route_keys_after_instance`: the last instance id made before this upgrade. A worker instance made
 *   before it was started with the server's address and key, and is signed for with the server's key until it
 *   reports through its endpoint's address (a restart gives it one); every instance made since, with its
 *   endpoint's, wherever it reports (one that reports to /worker_status/ itself would otherwise get grants of the
 *   server's key, which open the older workers). Ids, not times: clocks cannot put a worker on the wrong side.
 */
export const workerReportKeyMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('worker_reports')
      .addColumn('keyed', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    const last = (await sql<{ last: number | string | null }>`SELECT MAX(id) AS last FROM instances`.execute(db)).rows[0]?.last ?? 0;
    await sql`INSERT INTO settings (key, value) VALUES (${ROUTE_KEYS_AFTER_INSTANCE}, ${String(Number(last))}) ON CONFLICT (key) DO NOTHING`.execute(db);
  },
};
