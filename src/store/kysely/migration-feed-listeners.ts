import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 0031: the change feed's listeners (src/store/dialects/pg-feed-registry.ts): per replica, the last credential
 * change it heard and when its listening connection last proved itself; the row of origin '' numbers the
 * credential changes. A replica that revokes a key waits on these rows until every other replica forgot it
 * (decision 014). SQLite has one replica and never reads them.
 */
export const feedListenersMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('change_feed_listeners')
      .addColumn('origin', 'text', (c) => c.primaryKey())
      .addColumn('heard', 'bigint', (c) => c.notNull())
      .addColumn('alive_at', 'bigint', (c) => c.notNull())
      .execute();
    await sql`INSERT INTO change_feed_listeners (origin, heard, alive_at) VALUES ('', 0, 0)`.execute(db);
  },
};
