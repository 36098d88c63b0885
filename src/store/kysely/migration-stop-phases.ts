import { sql, type Kysely, type Migration } from 'kysely';

/** 0006: typed stop phases of endpoints, the workers' deadline, and the stop's request counts. */
export const stopPhasesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    // One column per ALTER: SQLite adds only one at a time.
    await db.schema.alterTable('endpoints').addColumn('stop_phase', 'text').execute();
    await db.schema.alterTable('endpoints').addColumn('stop_workers_deadline', 'bigint').execute();
    for (const col of ['stop_drain_timed_out', 'stop_answered', 'stop_failed']) {
      await db.schema
        .alterTable('endpoints')
        .addColumn(col, 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
    }
    // A stop under way during the upgrade starts its phases again; its drain deadline is kept.
    await sql`update endpoints set stop_phase = 'closing' where status = 'stopping'`.execute(db);
  },
};
