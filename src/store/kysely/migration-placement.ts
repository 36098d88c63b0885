import type { Kysely, Migration } from 'kysely';

/**
 * 0005: a workergroup's placement as the engine's conditions (JSON) instead of a query string.
 * Rows made before keep their text in `search_params` and a null `placement_json` until the dialect
 * that wrote the text compiles it (`Store.legacyWorkergroupSearches`, done by src/main at start).
 */
export const placementMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('workergroups').addColumn('placement_json', 'text').execute();
  },
};
