import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 0030: whether the requests a stop fails are rejected (Elasticsearch's stops) rather than stopped.
 * A stop under way keeps rejecting if it did (it rejected queued requests at once), and starts to if it
 * is an Elasticsearch deployment's drain: only those endpoints have limits (Vast's and AI Core's: null).
 */
export const stopRejectsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('endpoints')
      .addColumn('stop_rejects', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await sql`UPDATE endpoints SET stop_rejects = 1 WHERE stop_reject_queued = 1 OR (status = 'stopping' AND limits_json IS NOT NULL)`.execute(db);
  },
};
