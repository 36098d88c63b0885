import type { ApplicationRecord, ArtifactRecord, ConfigurationRecord, ExecutableRecord, ExecutableSpec } from '../domain/catalog/records.js';

/**
 * AI Core's catalog: executables (per account, from serving templates), applications (template
 * repositories), configurations and artifacts (per account and resource group). Filters, search
 * and paging are the control layer's (`src/domain/catalog/views.ts`): these lists are small.
 */
export interface CatalogStore {
  /**
   * Store executables in one transaction: each replaces the account's executable of its id
   * (keeping its createdAt). With `application`, the application's other executables are removed,
   * so a sync leaves exactly what the repository holds.
   */
  putExecutables(
    accountId: number,
    specs: readonly ExecutableSpec[],
    source: { readonly application: string | null },
    now: number,
  ): Promise<ExecutableRecord[]>;
  listExecutables(accountId: number): Promise<ExecutableRecord[]>;
  getExecutable(accountId: number, id: string): Promise<ExecutableRecord | undefined>;
  /** Removes the executables an application provided; returns how many. */
  deleteApplicationExecutables(accountId: number, application: string): Promise<number>;

  /** APPLICATION_EXISTS when the account has one of this name. */
  createApplication(a: ApplicationRecord): Promise<void>;
  /** Writes everything but accountId, name and createdAt. */
  updateApplication(a: ApplicationRecord): Promise<void>;
  getApplication(accountId: number, name: string): Promise<ApplicationRecord | undefined>;
  listApplications(accountId: number): Promise<ApplicationRecord[]>;
  deleteApplication(accountId: number, name: string): Promise<boolean>;

  createConfiguration(c: ConfigurationRecord): Promise<void>;
  getConfiguration(accountId: number, resourceGroup: string, id: string): Promise<ConfigurationRecord | undefined>;
  listConfigurations(accountId: number, resourceGroup: string): Promise<ConfigurationRecord[]>;

  createArtifact(a: ArtifactRecord): Promise<void>;
  getArtifact(accountId: number, resourceGroup: string, id: string): Promise<ArtifactRecord | undefined>;
  listArtifacts(accountId: number, resourceGroup: string): Promise<ArtifactRecord[]>;
}
