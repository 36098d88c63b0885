import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 0034: when a model last got a definition part (null: it holds none), so housekeeping can forget the
 * parts of a definition that was never completed (incompleteDefinitionTtlMs). Models holding parts
 * already count from their creation: an upload older than the TTL is long abandoned.
 */
export const mlPartTimesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('ml_models').addColumn('parts_updated_at', 'bigint').execute();
    await sql`UPDATE ml_models SET parts_updated_at = created_at WHERE total_parts IS NOT NULL`.execute(db);
  },
};
