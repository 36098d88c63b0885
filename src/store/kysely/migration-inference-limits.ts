import type { Kysely, Migration } from 'kysely';

/**
 * 0011: an endpoint's per-worker concurrency and queue bound (null: none, as before), a stop that
 * rejects queued requests (Elasticsearch's default), and how many requests a stop rejected so.
 */
export const inferenceLimitsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    // One column per ALTER: SQLite adds only one at a time.
    await db.schema.alterTable('endpoints').addColumn('limits_json', 'text').execute();
    for (const col of ['stop_reject_queued', 'stop_rejected']) {
      await db.schema
        .alterTable('endpoints')
        .addColumn(col, 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    }
  },
};
