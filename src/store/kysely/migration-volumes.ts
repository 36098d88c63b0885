import type { Kysely, Migration } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';

/** 0014: volume offers (one per machine), volumes rented from them, and which instances link which volume where. */
export function volumesMigration(d: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema
        .createTable('volume_offers')
        .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
        .addColumn('machine_id', 'integer', (c) => c.notNull().unique().references('machines.id'))
        .addColumn('owner_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('size_gb', 'double precision', (c) => c.notNull())
        .addColumn('used_gb', 'double precision', (c) => c.notNull())
        .addColumn('price_disk', 'double precision', (c) => c.notNull())
        .addColumn('end_date', 'bigint')
        .addColumn('listed', 'integer', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('volumes')
        .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('offer_id', 'integer', (c) => c.notNull().references('volume_offers.id'))
        .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id'))
        .addColumn('name', 'text')
        .addColumn('size_gb', 'double precision', (c) => c.notNull())
        .addColumn('price_disk', 'double precision', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('deleted_at', 'bigint')
        .addColumn('meter_since', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('volumes_account').on('volumes').columns(['account_id']).execute();
      await db.schema
        .createTable('instance_volumes')
        .addColumn('instance_id', 'integer', (c) => c.notNull().references('instances.id'))
        .addColumn('volume_id', 'integer', (c) => c.notNull().references('volumes.id'))
        .addColumn('mount_path', 'text', (c) => c.notNull())
        .addPrimaryKeyConstraint('instance_volumes_pk', ['instance_id', 'volume_id'])
        .execute();
      await db.schema.createIndex('instance_volumes_volume').on('instance_volumes').columns(['volume_id']).execute();
    },
  };
}
