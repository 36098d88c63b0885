import { GantryError } from '../../domain/errors.js';
import { DEFAULT_RESOURCE_GROUP, type ResourceGroupLabel, type ResourceGroupRecord } from '../../domain/account/resource-groups.js';
import { boundedInsert, type AccountBound } from './account-bound.js';
import { Repo } from './repo.js';
import { parseJson } from './rows.js';
import type { ResourceGroupTable } from './schema.js';
import type { Selectable } from 'kysely';

function toResourceGroup(r: Selectable<ResourceGroupTable>): ResourceGroupRecord {
  return { accountId: r.account_id, id: r.group_id, labels: parseJson<ResourceGroupLabel[]>(r.labels_json, []), createdAt: Number(r.created_at) };
}

/** AI Core resource groups, keyed by (account, group id). */
export class ResourceGroupRepo extends Repo {
  async createResourceGroup(g: ResourceGroupRecord, maxPerAccount = 0): Promise<void> {
    const bound: AccountBound = {
      accountId: g.accountId,
      max: maxPerAccount,
      // `default` is every account's without being made; stored (its labels set) it takes no place of another. An id
      // taken already is RESOURCE_GROUP_EXISTS (the insert's) whatever the count: a service key's group made meanwhile is found.
      count: async (q) => {
        const held = await q.selectFrom('resource_groups').select('group_id').where('account_id', '=', g.accountId).execute();
        return held.some((h) => h.group_id === g.id) ? 0 : held.filter((h) => h.group_id !== DEFAULT_RESOURCE_GROUP).length;
      },
      refuse: (max) =>
        new GantryError('RESOURCE_GROUP_LIMIT', `An account holds at most ${max} resource groups besides default; delete one first.`, { limit: max }),
    };
    try {
      await boundedInsert(this.db, this.dialect, bound, (q) =>
        q
          .insertInto('resource_groups')
          .values({ account_id: g.accountId, group_id: g.id, labels_json: JSON.stringify(g.labels), created_at: g.createdAt })
          .execute(),
      );
    } catch (err) {
      if (!this.dialect.isUniqueViolation(err)) throw err;
      throw new GantryError('RESOURCE_GROUP_EXISTS', `Resource group ${g.id} exists already.`, { resourceGroupId: g.id });
    }
  }

  async getResourceGroup(accountId: number, id: string): Promise<ResourceGroupRecord | undefined> {
    const r = await this.db.selectFrom('resource_groups').selectAll().where('account_id', '=', accountId).where('group_id', '=', id).executeTakeFirst();
    return r && toResourceGroup(r);
  }

  async listResourceGroups(accountId: number): Promise<ResourceGroupRecord[]> {
    const rows = await this.db
      .selectFrom('resource_groups')
      .selectAll()
      .where('account_id', '=', accountId)
      .orderBy('created_at')
      .orderBy('group_id')
      .execute();
    return rows.map(toResourceGroup);
  }

  async setResourceGroupLabels(accountId: number, id: string, labels: readonly ResourceGroupLabel[]): Promise<boolean> {
    const r = await this.db
      .updateTable('resource_groups')
      .set({ labels_json: JSON.stringify(labels) })
      .where('account_id', '=', accountId)
      .where('group_id', '=', id)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async deleteResourceGroup(accountId: number, id: string): Promise<boolean> {
    const r = await this.db.deleteFrom('resource_groups').where('account_id', '=', accountId).where('group_id', '=', id).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }
}
