import { GantryError } from '../../domain/errors.js';
import { transact } from './tx.js';
import { boundedInsert, countRows, type AccountBound } from './account-bound.js';
import type { ApplicationRecord, ArtifactRecord, ConfigurationRecord, ExecutableRecord, ExecutableSpec } from '../../domain/catalog/records.js';
import type { CatalogStore } from '../catalog-store.js';
import { applicationRow, executableRow, toApplication, toArtifact, toConfiguration, toExecutable } from './catalog-rows.js';
import { Repo } from './repo.js';

/** An account's configurations or artifacts, over all its resource groups: AI Core's API deletes neither. */
function catalogBound(
  accountId: number,
  max: number,
  table: 'catalog_configurations' | 'catalog_artifacts',
  code: 'CONFIGURATION_LIMIT' | 'ARTIFACT_LIMIT',
  noun: string,
): AccountBound {
  return {
    accountId,
    max,
    count: (q) => countRows(q.selectFrom(table).where('account_id', '=', accountId)),
    refuse: (m) =>
      new GantryError(
        code,
        `An account holds at most ${m} ${noun}, over all its resource groups; ${noun} cannot be deleted, an administrator can raise the bound.`,
        {
          limit: m,
        },
      ),
  };
}

/** Executables, applications, configurations and artifacts of AI Core's catalog. */
export class CatalogRepo extends Repo implements CatalogStore {
  async putExecutables(
    accountId: number,
    specs: readonly ExecutableSpec[],
    source: { readonly application: string | null },
    now: number,
    maxPerAccount = 0,
  ): Promise<ExecutableRecord[]> {
    const ids = specs.map((s) => s.id);
    const bound: AccountBound = {
      accountId,
      max: maxPerAccount,
      adding: specs.length,
      // What stays beside the new ones: the account's executables these do not replace (nor the application's, which they do).
      count: (q) => {
        let kept = q.selectFrom('catalog_executables').where('account_id', '=', accountId);
        if (ids.length > 0) kept = kept.where('id', 'not in', ids);
        const app = source.application;
        if (app !== null) kept = kept.where((eb) => eb.or([eb('application', 'is', null), eb('application', '!=', app)]));
        return countRows(kept);
      },
      refuse: (max) =>
        new GantryError('EXECUTABLE_LIMIT', `An account holds at most ${max} executables; these ${specs.length} would take it past that. Nothing was stored.`, {
          limit: max,
        }),
    };
    return transact(this.db, (trx) =>
      // One that stores none (an application left empty) only removes: never refused, even past a bound lowered since.
      boundedInsert(trx, this.dialect, specs.length === 0 ? { ...bound, max: 0 } : bound, async (q) => {
        const old = await q.selectFrom('catalog_executables').select(['id', 'created_at']).where('account_id', '=', accountId).execute();
        const createdAt = new Map(old.map((r) => [r.id, Number(r.created_at)]));
        if (source.application !== null) {
          await q.deleteFrom('catalog_executables').where('account_id', '=', accountId).where('application', '=', source.application).execute();
        }
        if (ids.length > 0) await q.deleteFrom('catalog_executables').where('account_id', '=', accountId).where('id', 'in', ids).execute();
        const rows = specs.map((s) => executableRow(accountId, s, source.application, createdAt.get(s.id) ?? now, now));
        if (rows.length > 0) await q.insertInto('catalog_executables').values(rows).execute();
        return rows.map(toExecutable);
      }),
    );
  }

  async listExecutables(accountId: number): Promise<ExecutableRecord[]> {
    const rows = await this.db.selectFrom('catalog_executables').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
    return rows.map(toExecutable);
  }

  async getExecutable(accountId: number, id: string): Promise<ExecutableRecord | undefined> {
    const r = await this.db.selectFrom('catalog_executables').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return r && toExecutable(r);
  }

  async deleteApplicationExecutables(accountId: number, application: string): Promise<number> {
    const r = await this.db.deleteFrom('catalog_executables').where('account_id', '=', accountId).where('application', '=', application).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async createApplication(a: ApplicationRecord): Promise<void> {
    try {
      await this.db.insertInto('catalog_applications').values(applicationRow(a)).execute();
    } catch (err) {
      if (this.dialect.isUniqueViolation(err))
        throw new GantryError('APPLICATION_EXISTS', `An application named '${a.name}' exists already.`, { name: a.name });
      throw err;
    }
  }

  async updateApplication(a: ApplicationRecord): Promise<void> {
    const row = applicationRow(a);
    const rest = {
      repository_url: row.repository_url,
      path: row.path,
      revision: row.revision,
      sync_status: row.sync_status,
      sync_message: row.sync_message,
      sync_started_at: row.sync_started_at,
      sync_finished_at: row.sync_finished_at,
      synced_json: row.synced_json,
      modified_at: row.modified_at,
    };
    await this.db.updateTable('catalog_applications').set(rest).where('account_id', '=', a.accountId).where('name', '=', a.name).execute();
  }

  async getApplication(accountId: number, name: string): Promise<ApplicationRecord | undefined> {
    const r = await this.db.selectFrom('catalog_applications').selectAll().where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r && toApplication(r);
  }

  async listApplications(accountId: number): Promise<ApplicationRecord[]> {
    const rows = await this.db.selectFrom('catalog_applications').selectAll().where('account_id', '=', accountId).orderBy('name').execute();
    return rows.map(toApplication);
  }

  async deleteApplication(accountId: number, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('catalog_applications').where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async createConfiguration(c: ConfigurationRecord, maxPerAccount = 0): Promise<void> {
    await boundedInsert(
      this.db,
      this.dialect,
      catalogBound(c.accountId, maxPerAccount, 'catalog_configurations', 'CONFIGURATION_LIMIT', 'configurations'),
      (q) =>
        q
          .insertInto('catalog_configurations')
          .values({
            id: c.id,
            account_id: c.accountId,
            resource_group: c.resourceGroup,
            name: c.name,
            executable_id: c.executableId,
            scenario_id: c.scenarioId,
            parameter_bindings_json: JSON.stringify(c.parameterBindings),
            artifact_bindings_json: JSON.stringify(c.inputArtifactBindings),
            created_at: c.createdAt,
          })
          .execute(),
    );
  }

  async getConfiguration(accountId: number, resourceGroup: string, id: string): Promise<ConfigurationRecord | undefined> {
    const r = await this.db
      .selectFrom('catalog_configurations')
      .selectAll()
      .where('id', '=', id)
      .where('account_id', '=', accountId)
      .where('resource_group', '=', resourceGroup)
      .executeTakeFirst();
    return r && toConfiguration(r);
  }

  async listConfigurations(accountId: number, resourceGroup: string): Promise<ConfigurationRecord[]> {
    const rows = await this.db
      .selectFrom('catalog_configurations')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('resource_group', '=', resourceGroup)
      .execute();
    return rows.map(toConfiguration);
  }

  async createArtifact(a: ArtifactRecord, maxPerAccount = 0): Promise<void> {
    await boundedInsert(this.db, this.dialect, catalogBound(a.accountId, maxPerAccount, 'catalog_artifacts', 'ARTIFACT_LIMIT', 'artifacts'), (q) =>
      q
        .insertInto('catalog_artifacts')
        .values({
          id: a.id,
          account_id: a.accountId,
          resource_group: a.resourceGroup,
          name: a.name,
          kind: a.kind,
          url: a.url,
          scenario_id: a.scenarioId,
          description: a.description,
          labels_json: JSON.stringify(a.labels),
          created_at: a.createdAt,
          modified_at: a.modifiedAt,
        })
        .execute(),
    );
  }

  async getArtifact(accountId: number, resourceGroup: string, id: string): Promise<ArtifactRecord | undefined> {
    const r = await this.db
      .selectFrom('catalog_artifacts')
      .selectAll()
      .where('id', '=', id)
      .where('account_id', '=', accountId)
      .where('resource_group', '=', resourceGroup)
      .executeTakeFirst();
    return r && toArtifact(r);
  }

  async listArtifacts(accountId: number, resourceGroup: string): Promise<ArtifactRecord[]> {
    const rows = await this.db
      .selectFrom('catalog_artifacts')
      .selectAll()
      .where('account_id', '=', accountId)
      .where('resource_group', '=', resourceGroup)
      .execute();
    return rows.map(toArtifact);
  }
}
