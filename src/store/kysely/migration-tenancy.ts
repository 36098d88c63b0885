import type { Kysely, Migration } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';

/** 0004: subaccounts and teams, scoped keys, secrets, SSH keys, the billing ledger, audit and shared rate buckets. */
export function tenancyMigration(d: StoreDialect): Migration {
  return {
    async up(db: Kysely<unknown>) {
      await db.schema.alterTable('accounts').addColumn('parent_id', 'integer').execute();
      await db.schema
        .alterTable('accounts')
        .addColumn('is_team', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema
        .alterTable('accounts')
        .addColumn('host_only', 'integer', (c) => c.notNull().defaultTo(0))
        .execute();
      await db.schema.alterTable('accounts').addColumn('deleted_at', 'bigint').execute();
      // null: every permission. A team key also names the member it was made for (the role narrows it live).
      await db.schema.alterTable('api_keys').addColumn('permissions_json', 'text').execute();
      await db.schema.alterTable('api_keys').addColumn('member_id', 'integer').execute();
      // Open meters: when compute and storage billing last started (or were last settled); null while not billed.
      await db.schema.alterTable('instances').addColumn('gpu_meter_since', 'bigint').execute();
      await db.schema.alterTable('instances').addColumn('disk_meter_since', 'bigint').execute();
      await db.schema
        .createTable('team_roles')
        .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
        .addColumn('team_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        .addColumn('permissions_json', 'text', (c) => c.notNull())
        .addUniqueConstraint('team_roles_name', ['team_id', 'name'])
        .execute();
      await db.schema
        .createTable('team_members')
        .addColumn('team_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('role', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addPrimaryKeyConstraint('team_members_pk', ['team_id', 'account_id'])
        .execute();
      await db.schema
        .createTable('secrets')
        .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('name', 'text', (c) => c.notNull())
        // "<key id>:<iv>:<tag>:<ciphertext>", AES-256-GCM under a key kept outside the database.
        .addColumn('sealed', 'text', (c) => c.notNull())
        .addColumn('key_id', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('updated_at', 'bigint', (c) => c.notNull())
        .addUniqueConstraint('secrets_name', ['account_id', 'name'])
        .execute();
      await db.schema
        .createTable('ssh_keys')
        .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
        .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
        .addColumn('public_key', 'text', (c) => c.notNull())
        .addColumn('created_at', 'bigint', (c) => c.notNull())
        .addColumn('deleted_at', 'bigint')
        .execute();
      await db.schema
        .createTable('instance_ssh_keys')
        .addColumn('instance_id', 'integer', (c) => c.notNull().references('instances.id'))
        .addColumn('ssh_key_id', 'integer', (c) => c.notNull().references('ssh_keys.id'))
        .addPrimaryKeyConstraint('instance_ssh_keys_pk', ['instance_id', 'ssh_key_id'])
        .execute();
      await db.schema
        .createTable('charges')
        .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
        .addColumn('account_id', 'integer', (c) => c.notNull())
        .addColumn('host_account_id', 'integer', (c) => c.notNull())
        .addColumn('machine_id', 'integer', (c) => c.notNull())
        .addColumn('instance_id', 'integer', (c) => c.notNull())
        .addColumn('kind', 'text', (c) => c.notNull())
        .addColumn('start_at', 'bigint', (c) => c.notNull())
        .addColumn('end_at', 'bigint', (c) => c.notNull())
        .addColumn('rate', 'double precision', (c) => c.notNull())
        .addColumn('amount', 'double precision', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('charges_account').on('charges').columns(['account_id', 'end_at']).execute();
      // Settling extends a meter's last row: found by instance, kind and end.
      await db.schema.createIndex('charges_instance').on('charges').columns(['instance_id', 'kind', 'end_at']).execute();
      await db.schema.createIndex('charges_host').on('charges').columns(['host_account_id', 'end_at']).execute();
      await db.schema
        .createTable('transfers')
        .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
        // null: credit an admin added (a deposit), not moved from another account.
        .addColumn('from_account_id', 'integer')
        .addColumn('to_account_id', 'integer', (c) => c.notNull())
        .addColumn('amount', 'double precision', (c) => c.notNull())
        .addColumn('note', 'text')
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
      await db.schema
        .createTable('audit_log')
        .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
        .addColumn('at', 'bigint', (c) => c.notNull())
        .addColumn('account_id', 'integer')
        .addColumn('actor_id', 'integer')
        .addColumn('key_id', 'integer')
        .addColumn('method', 'text', (c) => c.notNull())
        .addColumn('path', 'text', (c) => c.notNull())
        .addColumn('route', 'text', (c) => c.notNull())
        .addColumn('status_code', 'integer', (c) => c.notNull())
        .addColumn('error_code', 'text')
        .addColumn('ip', 'text', (c) => c.notNull())
        .addColumn('request_id', 'text', (c) => c.notNull())
        .execute();
      await db.schema.createIndex('audit_account').on('audit_log').columns(['account_id', 'id']).execute();
      await db.schema
        .createTable('rate_buckets')
        .addColumn('bucket', 'text', (c) => c.primaryKey())
        .addColumn('tokens', 'double precision', (c) => c.notNull())
        .addColumn('at', 'bigint', (c) => c.notNull())
        .execute();
    },
  };
}
