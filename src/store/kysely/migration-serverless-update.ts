import type { Kysely, Migration } from 'kysely';

/**
 * 0018: a rolling update of a workergroup's workers (Vast's `update workers`): while set, the workers
 * created before this time (ms) are replaced one at a time; null when no update is under way.
 */
export const serverlessUpdateMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('workergroups').addColumn('workers_outdated_before', 'bigint').execute();
  },
};
