import type { Selectable } from 'kysely';
import type {
  ApplicationRecord,
  ArtifactKind,
  ArtifactRecord,
  ConfigurationRecord,
  ExecutableRecord,
  ExecutableSpec,
  SyncStatus,
} from '../../domain/catalog/records.js';

/** Tables of the catalog (migration 0008) and their row mapping. */

export interface CatalogExecutableTable {
  account_id: number;
  id: string;
  scenario_id: string;
  application: string | null;
  spec_json: string;
  created_at: number;
  modified_at: number;
}

export interface CatalogApplicationTable {
  account_id: number;
  name: string;
  repository_url: string;
  path: string;
  revision: string;
  sync_status: string;
  sync_message: string;
  sync_started_at: number | null;
  sync_finished_at: number | null;
  synced_json: string;
  created_at: number;
  modified_at: number;
}

export interface CatalogConfigurationTable {
  id: string;
  account_id: number;
  resource_group: string;
  name: string;
  executable_id: string;
  scenario_id: string;
  parameter_bindings_json: string;
  artifact_bindings_json: string;
  created_at: number;
}

export interface CatalogArtifactTable {
  id: string;
  account_id: number;
  resource_group: string;
  name: string;
  kind: string;
  url: string;
  scenario_id: string;
  description: string | null;
  labels_json: string;
  created_at: number;
  modified_at: number;
}

export interface CatalogTables {
  catalog_executables: CatalogExecutableTable;
  catalog_applications: CatalogApplicationTable;
  catalog_configurations: CatalogConfigurationTable;
  catalog_artifacts: CatalogArtifactTable;
}

const n = (v: number | string): number => Number(v);
const nn = (v: number | string | null): number | null => (v === null ? null : Number(v));

export function toExecutable(r: Selectable<CatalogExecutableTable>): ExecutableRecord {
  const spec = JSON.parse(r.spec_json) as ExecutableSpec;
  return { ...spec, accountId: r.account_id, application: r.application, createdAt: n(r.created_at), modifiedAt: n(r.modified_at) };
}

export function executableRow(accountId: number, s: ExecutableSpec, application: string | null, createdAt: number, now: number): CatalogExecutableTable {
  return { account_id: accountId, id: s.id, scenario_id: s.scenarioId, application, spec_json: JSON.stringify(s), created_at: createdAt, modified_at: now };
}

export function toApplication(r: Selectable<CatalogApplicationTable>): ApplicationRecord {
  return {
    accountId: r.account_id,
    name: r.name,
    repositoryUrl: r.repository_url,
    path: r.path,
    revision: r.revision,
    createdAt: n(r.created_at),
    modifiedAt: n(r.modified_at),
    syncStatus: r.sync_status as SyncStatus,
    syncMessage: r.sync_message,
    syncStartedAt: nn(r.sync_started_at),
    syncFinishedAt: nn(r.sync_finished_at),
    synced: JSON.parse(r.synced_json) as ApplicationRecord['synced'],
  };
}

export function applicationRow(a: ApplicationRecord): CatalogApplicationTable {
  return {
    account_id: a.accountId,
    name: a.name,
    repository_url: a.repositoryUrl,
    path: a.path,
    revision: a.revision,
    sync_status: a.syncStatus,
    sync_message: a.syncMessage,
    sync_started_at: a.syncStartedAt,
    sync_finished_at: a.syncFinishedAt,
    synced_json: JSON.stringify(a.synced),
    created_at: a.createdAt,
    modified_at: a.modifiedAt,
  };
}

export function toConfiguration(r: Selectable<CatalogConfigurationTable>): ConfigurationRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    resourceGroup: r.resource_group,
    name: r.name,
    executableId: r.executable_id,
    scenarioId: r.scenario_id,
    parameterBindings: JSON.parse(r.parameter_bindings_json) as ConfigurationRecord['parameterBindings'],
    inputArtifactBindings: JSON.parse(r.artifact_bindings_json) as ConfigurationRecord['inputArtifactBindings'],
    createdAt: n(r.created_at),
  };
}

export function toArtifact(r: Selectable<CatalogArtifactTable>): ArtifactRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    resourceGroup: r.resource_group,
    name: r.name,
    kind: r.kind as ArtifactKind,
    url: r.url,
    scenarioId: r.scenario_id,
    description: r.description,
    labels: JSON.parse(r.labels_json) as ArtifactRecord['labels'],
    createdAt: n(r.created_at),
    modifiedAt: n(r.modified_at),
  };
}
