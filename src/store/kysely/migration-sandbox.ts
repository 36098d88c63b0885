import type { Kysely, Migration } from 'kysely';

/**
 * 0012: how a host isolates its tenants' workloads, as its agent last reported it ('sandboxed', 'shared',
 * 'unsafe-shared'); null for a host not seen since. A shared host takes only its owner's instances.
 */
export const sandboxMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('machines').addColumn('isolation', 'text').execute();
  },
};
