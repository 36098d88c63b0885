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
   * so a sync leaves exactly what the repository holds. `maxPerAccount`: most executables the account may
   * hold afterwards (EXECUTABLE_LIMIT past it, nothing stored); 0 or absent: no bound.
   */
  putExecutables(
    accountId: number,
    specs: readonly ExecutableSpec[],
    source: { readonly application: string | null },
    now: number,
    maxPerAccount?: number,
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

  /** `maxPerAccount`: most configurations the account may hold, over all its resource groups (CONFIGURATION_LIMIT past it); 0 or absent: no bound. */
  createConfiguration(c: ConfigurationRecord, maxPerAccount?: number): Promise<void>;
  getConfiguration(accountId: number, resourceGroup: string, id: string): Promise<ConfigurationRecord | undefined>;
  listConfigurations(accountId: number, resourceGroup: string): Promise<ConfigurationRecord[]>;

  /** `maxPerAccount`: most artifacts the account may hold, over all its resource groups (ARTIFACT_LIMIT past it); 0 or absent: no bound. */
  createArtifact(a: ArtifactRecord, maxPerAccount?: number): Promise<void>;
  getArtifact(accountId: number, resourceGroup: string, id: string): Promise<ArtifactRecord | undefined>;
  listArtifacts(accountId: number, resourceGroup: string): Promise<ArtifactRecord[]>;
}
