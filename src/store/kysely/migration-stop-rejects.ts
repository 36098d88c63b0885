import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 0030: whether the requests a stop fails are rejected (Elasticsearch's stops) rather than stopped.
 * Before it, only a stop that rejected queued requests at once did so; such a stop in progress keeps it.
 */
export const stopRejectsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('endpoints')
      .addColumn('stop_rejects', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await sql`UPDATE endpoints SET stop_rejects = stop_reject_queued`.execute(db);
  },
};
