import type { Kysely, Migration } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';

/** 0013: Vast templates; the content lives as JSON, the columns are what lookups need (hash, owner, visibility). */
export function templatesMigration(d: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('templates')
        .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('hash_id', 'text', (c) => c.notNull())
        .addColumn('private', 'integer', (c) => c.notNull())
        .addColumn('spec_json', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addColumn('deleted_at', 'bigint')
        .execute();
      await db.schema.createIndex('templates_hash').on('templates').column('hash_id').execute();
      await db.schema.createIndex('templates_account').on('templates').column('account_id').execute();
    },
  };
}
