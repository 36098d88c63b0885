import type { Kysely, Migration } from 'kysely';

/**
 * 0038: a clone is marked until its host confirms the copy. `cloning_until` (epoch ms) is the time past which
 * an unconfirmed clone is given up: a control plane lost during the copy (kill -9, power) left the new volume
 * listed as ordinary with part of the data. Null for every other volume, and for the rows before it.
 */
export const volumeClonesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('volumes').addColumn('cloning_until', 'bigint').execute();
  },
};
