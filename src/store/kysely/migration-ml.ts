import type { Kysely, Migration } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';

/**
 * 0010: trained models, their definition parts (one row of bytes per part, so a model is read back
 * one part at a time), vocabularies and ingest pipelines. In the database rather than a folder:
 * every replica sharing a PostgreSQL sees a part the moment another replica stored it.
 */
export function mlMigration(d: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('ml_models')
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('config_json', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('total_parts', 'integer')
        .addColumn('total_definition_length', 'bigint')
        .addColumn('fully_defined', 'integer', (c) => c.notNull().defaultTo(0))
        .addColumn('onnx_json', 'text')
        .addPrimaryKeyConstraint('ml_models_pk', ['account_id', 'model_id'])
        .execute();
      await db.schema
        .createTable('ml_model_parts')
        .addColumn('account_id', 'integer', (c) => c.notNull())
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('part', 'integer', (c) => c.notNull())
        .addColumn('length', 'bigint', (c) => c.notNull())
        .addColumn('bytes', d.blobColumnType, (c) => c.notNull())
        .addPrimaryKeyConstraint('ml_model_parts_pk', ['account_id', 'model_id', 'part'])
        .execute();
      await db.schema
        .createTable('ml_vocabularies')
        .addColumn('account_id', 'integer', (c) => c.notNull())
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('vocabulary_json', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('ml_vocabularies_pk', ['account_id', 'model_id'])
        .execute();
      await db.schema
        .createTable('ml_pipelines')
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('id', 'text', (c) => c.notNull())
        .addColumn('body_json', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('ml_pipelines_pk', ['account_id', 'id'])
        .execute();
      // One row per alias: the key makes an alias name one model at a time per account.
      await db.schema
        .createTable('ml_model_aliases')
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('alias', 'text', (c) => c.notNull())
        .addColumn('model_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('ml_model_aliases_pk', ['account_id', 'alias'])
        .execute();
    },
  };
}
