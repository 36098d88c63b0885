import type { Kysely, Migration } from 'kysely';

/**
 * 0032: until when a stopped endpoint rests (claims pass it by; the serverless loop has nothing to do
 * for it). Null: passed at every tick. 0: woken while a pass may be under way, which must not rest it.
 */
export const endpointRestMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('endpoints').addColumn('rest_until', 'bigint').execute();
  },
};
