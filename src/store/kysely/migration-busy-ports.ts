import type { Kysely, Migration } from 'kysely';

/**
 * 0028: the ports of a machine's range that its agent last found held by another program, as a JSON list.
 * The agent reports them to the replica it talks to; stored, so a rental through any replica skips them.
 */
export const busyPortsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('machines').addColumn('busy_ports', 'text').execute();
  },
};
