import type { Kysely, Migration } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';

/**
 * 0025: code deployments (decision 020). `code_deployments` holds the code side of a deployment
 * (worker spec, current version, heartbeat ttl and the last heartbeat); `code_versions` one row per
 * distinct file_hash of a deployment; `code_upload_tokens` the single-use upload tokens by nonce.
 */
export function codeDeploymentsMigration(d: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('code_deployments')
        .addColumn('deployment_id', 'integer', (c) => c.primaryKey().references('deployments.id'))
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('spec_json', 'text', (c) => c.notNull())
        .addColumn('docker_login_json', 'text')
        .addColumn('current_version_id', 'integer')
        .addColumn('ttl_s', 'double precision')
        .addColumn('last_heartbeat_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('code_versions')
        .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
        .addColumn('deployment_id', 'integer', (c) => c.notNull().references('deployments.id'))
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('file_hash', 'text', (c) => c.notNull())
        .addColumn('file_size', 'bigint', (c) => c.notNull())
        .addColumn('version_label', 'text')
        .addColumn('uploaded_at', 'bigint')
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('last_used_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('code_versions_hash').unique().on('code_versions').columns(['deployment_id', 'file_hash']).execute();
      // Whether another version still holds a blob (account + file_hash) before it is deleted.
      await db.schema.createIndex('code_versions_blob').on('code_versions').columns(['account_id', 'file_hash']).execute();
      await db.schema
        .createTable('code_upload_tokens')
        .addColumn('nonce', 'text', (c) => c.primaryKey())
        .addColumn('version_id', 'integer', (c) => c.notNull())
        .addColumn('expires_at', 'bigint', (c) => c.notNull())
        .addColumn('used_at', 'bigint')
        .execute();
    },
  };
}
