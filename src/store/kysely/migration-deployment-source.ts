import { randomBytes } from 'node:crypto';
import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 0009: deployments made from configurations (AI Core): a public id, a resource group, the source
 * configuration and the one last running, ttl, the last operation; workergroups carry the revision
 * they were made from; endpoints record when they last started and ended.
 */
export const deploymentSourceMigration: Migration = {
  async up(db: Kysely<unknown>) {
    // One column per ALTER: SQLite adds only one at a time.
    for (const col of ['uid', 'source_json', 'running_source_id', 'rollout_error', 'ttl'])
      await db.schema.alterTable('deployments').addColumn(col, 'text').execute();
    await db.schema
      .alterTable('deployments')
      .addColumn('resource_group', 'text', (c) => c.notNull().defaultTo('default'))
      .execute();
    await db.schema
      .alterTable('deployments')
      .addColumn('last_operation', 'text', (c) => c.notNull().defaultTo('create'))
      .execute();
    await db.schema.alterTable('deployments').addColumn('expires_at', 'bigint').execute();
    await db.schema.alterTable('workergroups').addColumn('revision', 'text').execute();
    for (const col of ['started_at', 'completed_at']) await db.schema.alterTable('endpoints').addColumn(col, 'bigint').execute();
    const rows = await sql<{ id: number }>`select id from deployments`.execute(db);
    for (const r of rows.rows) await sql`update deployments set uid = ${randomBytes(8).toString('hex')} where id = ${r.id}`.execute(db);
    await db.schema.createIndex('deployments_uid').on('deployments').column('uid').unique().execute();
    await db.schema.createIndex('deployments_expiry').on('deployments').column('expires_at').execute();
  },
};
