import { Migrator, type Kysely, type Migration, type MigrationProvider } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { Database } from './schema.js';
import { resourceGroupsMigration } from './migration-resource-groups.js';
import { deploymentSourceMigration } from './migration-deployment-source.js';
import { catalogMigration } from './migration-catalog.js';
import { mlMigration } from './migration-ml.js';
import { placementMigration } from './migration-placement.js';
import { stopPhasesMigration } from './migration-stop-phases.js';
import { tenancyMigration } from './migration-tenancy.js';
import { inferenceLimitsMigration } from './migration-inference-limits.js';
import { workerReportKeyMigration } from './migration-worker-report-key.js';
import { sandboxMigration } from './migration-sandbox.js';
import { templatesMigration } from './migration-templates.js';
import { accountsMigration } from './migration-accounts.js';
import { serverlessUpdateMigration } from './migration-serverless-update.js';
import { bidsMigration } from './migration-bids.js';
import { instanceTemplateMigration } from './migration-instance-template.js';
import { volumesMigration } from './migration-volumes.js';
import { machineDeletedMigration } from './migration-machine-deleted.js';
import { busyPortsMigration } from './migration-busy-ports.js';
import { hostCallsMigration } from './migration-host-calls.js';
import { gatewayPendingEndpointMigration } from './migration-gateway-pending-endpoint.js';
import { resultOwnerMigration } from './migration-result-owner.js';
import { lookupIndexesMigration } from './migration-lookup-indexes.js';
import { hostSweepMigration } from './migration-host-sweep.js';
import { hostSweepTableMigration } from './migration-host-sweep-table.js';
import { fleetScaleIndexesMigration } from './migration-fleet-scale-indexes.js';
import { codeDeploymentsMigration } from './migration-code-deployments.js';
import { seriesMigration } from './migration-series.js';
import { stopRejectsMigration } from './migration-stop-rejects.js';
import { feedListenersMigration } from './migration-feed-listeners.js';
import { mlPartTimesMigration } from './migration-ml-part-times.js';
import { endpointRestMigration } from './migration-endpoint-rest.js';
import { serverlessIndexesMigration } from './migration-serverless-indexes.js';
import { mlPartsVersionMigration } from './migration-ml-parts-version.js';
import { volumeClonesMigration } from './migration-volume-clones.js';

/** Migrations live in code so the compiled package needs no file lookups; run on every start. */
export function migrations(d: StoreDialect): MigrationProvider {
  const all: Record<string, Migration> = {
    '0001_initial': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('accounts')
          .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
          .addColumn('username', 'text', (c) => c.notNull().unique())
          .addColumn('email', 'text', (c) => c.notNull())
          .addColumn('is_admin', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('balance', 'double precision', (c) => c.notNull().defaultTo(0))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('api_keys')
          .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
          .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
          .addColumn('key_hash', 'text', (c) => c.notNull().unique())
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('scope', 'text', (c) => c.notNull())
          .addColumn('instance_id', 'integer')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('revoked_at', 'bigint')
          .execute();
        await db.schema
          .createTable('machines')
          .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
          .addColumn('owner_id', 'integer', (c) => c.notNull().references('accounts.id'))
          .addColumn('host_key', 'text', (c) => c.notNull().unique())
          .addColumn('hostname', 'text', (c) => c.notNull())
          .addColumn('gpu_name', 'text', (c) => c.notNull())
          .addColumn('num_gpus', 'integer', (c) => c.notNull())
          .addColumn('gpu_ram_mb', 'integer', (c) => c.notNull())
          .addColumn('gpu_declared', 'integer', (c) => c.notNull())
          .addColumn('compute_cap', 'integer')
          .addColumn('cpu_name', 'text', (c) => c.notNull())
          .addColumn('cpu_arch', 'text', (c) => c.notNull())
          .addColumn('cpu_cores', 'integer', (c) => c.notNull())
          .addColumn('cpu_ram_mb', 'integer', (c) => c.notNull())
          .addColumn('disk_space_gb', 'double precision', (c) => c.notNull())
          .addColumn('driver_version', 'text')
          .addColumn('cuda_max_good', 'double precision')
          .addColumn('verified', 'integer', (c) => c.notNull())
          .addColumn('listed', 'integer', (c) => c.notNull())
          .addColumn('price_gpu', 'double precision', (c) => c.notNull())
          .addColumn('price_disk', 'double precision', (c) => c.notNull())
          .addColumn('price_inetu', 'double precision', (c) => c.notNull())
          .addColumn('price_inetd', 'double precision', (c) => c.notNull())
          .addColumn('min_bid', 'double precision', (c) => c.notNull())
          .addColumn('min_chunk', 'integer', (c) => c.notNull())
          .addColumn('public_ip', 'text', (c) => c.notNull())
          .addColumn('geolocation', 'text', (c) => c.notNull())
          .addColumn('reliability', 'double precision', (c) => c.notNull())
          .addColumn('inet_up', 'double precision', (c) => c.notNull())
          .addColumn('inet_down', 'double precision', (c) => c.notNull())
          .addColumn('port_range_start', 'integer', (c) => c.notNull())
          .addColumn('port_range_end', 'integer', (c) => c.notNull())
          .addColumn('os_version', 'text', (c) => c.notNull())
          .addColumn('last_seen_at', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('instances')
          .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
          .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
          .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id'))
          .addColumn('num_gpus', 'integer', (c) => c.notNull())
          .addColumn('gpu_indices', 'text', (c) => c.notNull())
          .addColumn('image', 'text', (c) => c.notNull())
          .addColumn('env_json', 'text', (c) => c.notNull())
          .addColumn('ports_json', 'text', (c) => c.notNull())
          .addColumn('onstart', 'text')
          .addColumn('entrypoint', 'text')
          .addColumn('args_json', 'text')
          .addColumn('runtype', 'text', (c) => c.notNull())
          .addColumn('label', 'text')
          .addColumn('disk_gb', 'double precision', (c) => c.notNull())
          .addColumn('offer_type', 'text', (c) => c.notNull())
          .addColumn('bid_price', 'double precision')
          .addColumn('dph_base', 'double precision', (c) => c.notNull())
          .addColumn('storage_cost', 'double precision', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('generation', 'integer', (c) => c.notNull())
          .addColumn('pending_op', 'text')
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('observed_generation', 'integer', (c) => c.notNull())
          .addColumn('status_msg', 'text')
          .addColumn('exit_code', 'integer')
          .addColumn('start_date', 'bigint')
          .addColumn('status_changed_at', 'bigint', (c) => c.notNull())
          .addColumn('stop_requested_at', 'bigint')
          .addColumn('destroyed_at', 'bigint')
          .addColumn('last_processed_at', 'bigint', (c) => c.notNull())
          .addColumn('lease_owner', 'text')
          .addColumn('lease_token', 'text')
          .addColumn('lease_expires_at', 'bigint')
          .execute();
        await db.schema.createIndex('instances_account').on('instances').columns(['account_id', 'id']).execute();
        await db.schema.createIndex('instances_work').on('instances').columns(['status', 'last_processed_at']).execute();
        await db.schema
          .createTable('gpu_allocations')
          .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id'))
          .addColumn('gpu_index', 'integer', (c) => c.notNull())
          .addColumn('instance_id', 'integer', (c) => c.notNull().references('instances.id'))
          // The primary key is what makes double booking impossible, whatever the replica count.
          .addPrimaryKeyConstraint('gpu_allocations_pk', ['machine_id', 'gpu_index'])
          .execute();
        await db.schema
          .createTable('port_allocations')
          .addColumn('machine_id', 'integer', (c) => c.notNull().references('machines.id'))
          .addColumn('host_port', 'integer', (c) => c.notNull())
          .addColumn('instance_id', 'integer', (c) => c.notNull().references('instances.id'))
          .addColumn('container_port', 'integer', (c) => c.notNull())
          .addColumn('proto', 'text', (c) => c.notNull())
          .addPrimaryKeyConstraint('port_allocations_pk', ['machine_id', 'host_port'])
          .execute();
        await db.schema
          .createTable('results')
          .addColumn('token', 'text', (c) => c.primaryKey())
          .addColumn('content', 'text', (c) => c.notNull())
          .addColumn('expires_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '0002_fleet': {
      async up(db: Kysely<unknown>) {
        await db.schema
          .createTable('host_tokens')
          .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
          .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
          .addColumn('token_hash', 'text', (c) => c.notNull().unique())
          .addColumn('name', 'text', (c) => c.notNull())
          // Bound at the first hello: from then on the token speaks for that one machine only.
          .addColumn('machine_id', 'integer')
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('revoked_at', 'bigint')
          .execute();
        for (const [col, type] of [
          ['end_date', 'bigint'],
          ['discount_rate', 'double precision'],
          ['maint_start', 'bigint'],
          ['maint_end', 'bigint'],
          ['maint_reason', 'text'],
          ['runtime', 'text'],
          ['gpu_utils', 'text'],
        ] as const) {
          await db.schema.alterTable('machines').addColumn(col, type).execute();
        }
        await db.schema
          .createTable('instance_usage')
          .addColumn('instance_id', 'integer', (c) => c.primaryKey().references('instances.id'))
          .addColumn('cpu_util', 'double precision', (c) => c.notNull())
          .addColumn('mem_usage_mb', 'double precision', (c) => c.notNull())
          .addColumn('disk_usage_mb', 'double precision', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .execute();
      },
    },
    '0003_serverless': {
      async up(db: Kysely<unknown>) {
        await db.schema.alterTable('instances').addColumn('workergroup_id', 'integer').execute();
        await db.schema.alterTable('instances').addColumn('endpoint_id', 'integer').execute();
        await db.schema
          .createTable('endpoints')
          .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
          .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('live_name', 'text')
          .addColumn('api_key', 'text', (c) => c.notNull().unique())
          .addColumn('params_json', 'text', (c) => c.notNull())
          .addColumn('suspended', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('alias_of', 'text')
          .addColumn('target', 'text', (c) => c.notNull())
          .addColumn('status', 'text', (c) => c.notNull())
          .addColumn('status_msg', 'text')
          .addColumn('generation', 'integer', (c) => c.notNull())
          .addColumn('stop_drain', 'integer', (c) => c.notNull().defaultTo(0))
          .addColumn('stop_deadline', 'bigint')
          .addColumn('stop_requested_at', 'bigint')
          .addColumn('memory_json', 'text', (c) => c.notNull())
          .addColumn('last_activity_at', 'bigint', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('last_processed_at', 'bigint', (c) => c.notNull())
          .addColumn('lease_owner', 'text')
          .addColumn('lease_token', 'text')
          .addColumn('lease_expires_at', 'bigint')
          .execute();
        await db.schema.createIndex('endpoints_live_name').unique().on('endpoints').columns(['account_id', 'live_name']).execute();
        await db.schema
          .createTable('workergroups')
          .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
          .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
          .addColumn('endpoint_id', 'integer', (c) => c.notNull().references('endpoints.id'))
          .addColumn('template_json', 'text', (c) => c.notNull())
          .addColumn('search_params', 'text', (c) => c.notNull())
          .addColumn('launch_args', 'text')
          .addColumn('gpu_ram_gb', 'double precision')
          .addColumn('test_workers', 'integer', (c) => c.notNull())
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('deleted_at', 'bigint')
          .execute();
        await db.schema
          .createTable('deployments')
          .addColumn('id', d.idColumnType, (c) => d.idColumn(c))
          .addColumn('account_id', 'integer', (c) => c.notNull().references('accounts.id'))
          .addColumn('name', 'text', (c) => c.notNull())
          .addColumn('tag', 'text', (c) => c.notNull())
          .addColumn('endpoint_id', 'integer', (c) => c.notNull().references('endpoints.id'))
          .addColumn('workergroup_id', 'integer', (c) => c.notNull().references('workergroups.id'))
          .addColumn('created_at', 'bigint', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addColumn('deleted_at', 'bigint')
          .execute();
        await db.schema
          .createTable('worker_reports')
          .addColumn('instance_id', 'integer', (c) => c.primaryKey().references('instances.id'))
          .addColumn('cur_load', 'double precision', (c) => c.notNull())
          .addColumn('max_perf', 'double precision')
          .addColumn('cur_perf', 'double precision', (c) => c.notNull())
          .addColumn('num_requests_working', 'integer', (c) => c.notNull())
          .addColumn('loaded', 'integer', (c) => c.notNull())
          .addColumn('error_msg', 'text')
          .addColumn('reported_at', 'bigint', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('settings')
          .addColumn('key', 'text', (c) => c.primaryKey())
          .addColumn('value', 'text', (c) => c.notNull())
          .execute();
        await db.schema
          .createTable('gateway_pending')
          .addColumn('replica', 'text', (c) => c.notNull())
          .addColumn('endpoint_id', 'integer', (c) => c.notNull())
          .addColumn('pending', 'integer', (c) => c.notNull())
          .addColumn('updated_at', 'bigint', (c) => c.notNull())
          .addPrimaryKeyConstraint('gateway_pending_pk', ['replica', 'endpoint_id'])
          .execute();
      },
    },
    '0004_tenancy': tenancyMigration(d),
    '0005_worker_placement': placementMigration,
    '0006_stop_phases': stopPhasesMigration,
    '0007_resource_groups': resourceGroupsMigration,
    '0008_catalog': catalogMigration,
    '0009_deployment_source': deploymentSourceMigration,
    '0010_ml': mlMigration(d),
    '0011_inference_limits': inferenceLimitsMigration,
    '0012_sandbox': sandboxMigration,
    '0013_templates': templatesMigration(d),
    '0014_volumes': volumesMigration(d),
    '0015_bids': bidsMigration,
    '0018_serverless': serverlessUpdateMigration,
    '0019_accounts': accountsMigration,
    '0020_instance_template': instanceTemplateMigration,
    '0021_machine_deleted': machineDeletedMigration,
    '0022_lookup_indexes': lookupIndexesMigration,
    '0023_fleet_scale_indexes': fleetScaleIndexesMigration,
    '0024_host_sweep': hostSweepMigration,
    '0025_code_deployments': codeDeploymentsMigration(d),
    '0026_series': seriesMigration(d),
    '0027_host_sweep_table': hostSweepTableMigration,
    '0028_machine_busy_ports': busyPortsMigration,
    '0029_host_calls': hostCallsMigration,
    '0030_stop_rejects': stopRejectsMigration,
    '0031_feed_listeners': feedListenersMigration,
    '0032_endpoint_rest': endpointRestMigration,
    '0033_gateway_pending_endpoint': gatewayPendingEndpointMigration,
    '0034_ml_part_times': mlPartTimesMigration,
    '0035_result_owner': resultOwnerMigration,
    '0036_serverless_indexes': serverlessIndexesMigration,
    '0037_ml_parts_version': mlPartsVersionMigration,
    '0038_volume_clones': volumeClonesMigration,
    '0039_worker_report_key': workerReportKeyMigration,
  };
  return { getMigrations: () => Promise.resolve(all) };
}

/**
 * A failed migration as the operator reads it. Data migrated by a newer Gantry names a migration this
 * version does not have: kysely calls that "corrupted", but nothing was touched; it is a downgrade.
 */
export function migrationFailure(error: unknown): Error {
  const newer = error instanceof Error ? /previously executed migration (\S+) is missing/.exec(error.message) : null;
  if (newer !== null)
    return new Error(
      `This database was migrated by a newer Gantry (its migration ${newer[1]} is unknown to this version). It is unchanged; downgrades are not supported: run that newer version (or newer), or restore a backup made before the upgrade.`,
      { cause: error },
    );
  return error instanceof Error ? error : new Error('database migration failed', { cause: error });
}

/**
 * Bring the schema up to date. kysely's migrator takes a lock (pg_advisory_xact_lock on PostgreSQL), so
 * replicas may start together; no statement bound on that wait or on an index build.
 */
export async function migrateToLatest(db: Kysely<Database>, dialect: StoreDialect): Promise<void> {
  const migrate = () => new Migrator({ db, provider: migrations(dialect) }).migrateToLatest();
  const { error } = await (dialect.withoutStatementBound?.(migrate) ?? migrate());
  if (error !== undefined) throw migrationFailure(error);
}
