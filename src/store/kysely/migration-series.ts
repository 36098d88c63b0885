import type { Kysely, Migration } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';

/**
 * 0026: the console's time series and the autoscaler's decisions. `samples` is keyed by (series,
 * subject, bucket_at), so replicas sampling the same bucket upsert one row; its rows older than the
 * retention are pruned by housekeeping, by bucket (the index on bucket_at). `scale_decisions` keeps the
 * newest few decisions of each endpoint (found by endpoint, newest first).
 */
export function seriesMigration(d: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('samples')
        .addColumn('series', 'text', (c) => c.notNull())
        .addColumn('subject', 'bigint', (c) => c.notNull())
        .addColumn('bucket_at', 'bigint', (c) => c.notNull())
        .addColumn('value', 'double precision', (c) => c.notNull())
        .addPrimaryKeyConstraint('samples_pk', ['series', 'subject', 'bucket_at'])
        .execute();
      await db.schema.createIndex('samples_bucket').on('samples').column('bucket_at').execute();
      await db.schema
        .createTable('scale_decisions')
        .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
        .addColumn('endpoint_id', 'integer', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('active_target', 'integer', (c) => c.notNull())
        .addColumn('total_target', 'integer', (c) => c.notNull())
        .addColumn('started', 'integer', (c) => c.notNull())
        .addColumn('created', 'integer', (c) => c.notNull())
        .addColumn('stopped', 'integer', (c) => c.notNull())
        .addColumn('destroyed', 'integer', (c) => c.notNull())
        .addColumn('reason', 'text', (c) => c.notNull())
        .addColumn('refused', 'text')
        .execute();
      await db.schema.createIndex('scale_decisions_endpoint').on('scale_decisions').columns(['endpoint_id', 'id']).execute();
    },
  };
}
