import type { Kysely, Migration } from 'kysely';

/** 0008: AI Core's catalog: executables from serving templates, applications, configurations, artifacts. */
export const catalogMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .createTable('catalog_executables')
      .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
      .addColumn('id', 'text', (c) => c.notNull())
      .addColumn('scenario_id', 'text', (c) => c.notNull())
      .addColumn('application', 'text')
      .addColumn('spec_json', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('modified_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('catalog_executables_pk', ['account_id', 'id'])
      .execute();
    await db.schema
      .createTable('catalog_applications')
      .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('repository_url', 'text', (c) => c.notNull())
      .addColumn('path', 'text', (c) => c.notNull())
      .addColumn('revision', 'text', (c) => c.notNull())
      .addColumn('sync_status', 'text', (c) => c.notNull())
      .addColumn('sync_message', 'text', (c) => c.notNull())
      .addColumn('sync_started_at', 'bigint')
      .addColumn('sync_finished_at', 'bigint')
      .addColumn('synced_json', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('modified_at', 'bigint', (c) => c.notNull())
      .addPrimaryKeyConstraint('catalog_applications_pk', ['account_id', 'name'])
      .execute();
    await db.schema
      .createTable('catalog_configurations')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
      .addColumn('resource_group', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('executable_id', 'text', (c) => c.notNull())
      .addColumn('scenario_id', 'text', (c) => c.notNull())
      .addColumn('parameter_bindings_json', 'text', (c) => c.notNull())
      .addColumn('artifact_bindings_json', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('catalog_configurations_group').on('catalog_configurations').columns(['account_id', 'resource_group']).execute();
    await db.schema
      .createTable('catalog_artifacts')
      .addColumn('id', 'text', (c) => c.primaryKey())
      .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
      .addColumn('resource_group', 'text', (c) => c.notNull())
      .addColumn('name', 'text', (c) => c.notNull())
      .addColumn('kind', 'text', (c) => c.notNull())
      .addColumn('url', 'text', (c) => c.notNull())
      .addColumn('scenario_id', 'text', (c) => c.notNull())
      .addColumn('description', 'text')
      .addColumn('labels_json', 'text', (c) => c.notNull())
      .addColumn('created_at', 'bigint', (c) => c.notNull())
      .addColumn('modified_at', 'bigint', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('catalog_artifacts_group').on('catalog_artifacts').columns(['account_id', 'resource_group']).execute();
  },
};
