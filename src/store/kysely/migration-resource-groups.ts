import type { Kysely, Migration } from 'kysely';

/** 0007: AI Core resource groups, one row per (account, group id); deleting one removes its row. */
export const resourceGroupsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('resource_groups')
      .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
      .addColumn('group_id', 'text', (c) => c.notNull())
      .addColumn('labels_json', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('resource_groups_pk', ['account_id', 'group_id'])
      .execute();
  },
};
