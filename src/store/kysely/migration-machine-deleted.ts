import type { Kysely, Migration } from 'kysely';

/**
 * 0021: a machine deleted by its owner (`delete machine`) keeps its row, so instances, tombstones and billing
 * rows that name it still resolve; `deleted_at` hides it from listings, offers and placement.
 */
export const machineDeletedMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('machines').addColumn('deleted_at', 'bigint').execute();
  },
};
