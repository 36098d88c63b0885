import type { Kysely, Migration } from 'kysely';

/**
 * 0039: whether a worker reported through its endpoint's report address (`keyed`), and so checks hand-outs
 * with its endpoint's signing key rather than the server's (src/gateway/route-keys.ts). Workers that reported
 * before start at 0: they were given the server's address and key, and keep them until they are replaced.
 */
export const workerReportKeyMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('worker_reports')
      .addColumn('keyed', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
  },
};
