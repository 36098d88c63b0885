import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 0027: the host sweep's lease and stamp move from `machines` to a narrow table of their own (decision
 * 022). A sweep writes them for every host twice a pass (the claim, then the stamp), once a second by
 * default: on the wide machine rows that was most of a fleet pass's database time and bloated the table
 * every other read of machines walks. A host's row is made by its first claim (the machine must exist).
 */
export const hostSweepTableMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('host_sweeps')
      .addColumn('id', 'integer', (c) => c.primaryKey().references('machines.id'))
      .addColumn('lease_owner', 'text')
      .addColumn('lease_token', 'text')
      .addColumn('lease_expires_at', 'bigint')
      .addColumn('last_swept_at', 'bigint')
      .execute();
    await sql`INSERT INTO host_sweeps (id, last_swept_at) SELECT id, last_swept_at FROM machines WHERE last_swept_at IS NOT NULL`.execute(db);
    // The machine columns stay, unused from now on: replicas of the previous release, still running while
    // the others are upgraded, keep sweeping with them. A later migration drops them.
  },
};
