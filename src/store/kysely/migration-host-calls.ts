import type { Kysely, Migration } from 'kysely';

/**
 * 0029: calls that must run on the replica whose session holds a host's agent (instance logs), asked
 * through another replica: the asking replica writes one, the holding replica takes it (deletes it)
 * and stores the answer as a result under the call's token.
 */
export const hostCallsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('host_calls')
      .addColumn('token', 'text', (c) => c.primaryKey())
      .addColumn('machine_id', 'integer', (c) => c.notNull())
      .addColumn('op', 'text', (c) => c.notNull())
      .addColumn('args', 'text', (c) => c.notNull())
      .addColumn('expires_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('host_calls_machine').on('host_calls').column('machine_id').execute();
  },
};
