import type { Kysely, Selectable } from 'kysely';
import { GantryError } from '../../domain/errors.js';
import type { InstanceTemplate } from '../../domain/instance/instance.js';
import type { TemplateRecord, TemplateSpec } from '../../domain/instance/template.js';
import type { NewTemplate, TemplateStore } from '../template-store.js';
import { boundedInsert, countRows, type AccountBound } from './account-bound.js';
import { Repo } from './repo.js';
import type { Database } from './schema.js';
import { parseJson } from './rows.js';
import type { TemplateTable } from './template-rows.js';

function toTemplate(r: Selectable<TemplateTable>): TemplateRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    hashId: r.hash_id,
    private: r.private !== 0,
    spec: parseJson<TemplateSpec>(r.spec_json, {} as TemplateSpec),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}

/** Vast templates; a delete only hides the row. */
export class TemplateRepo extends Repo implements TemplateStore {
  async createTemplate(t: NewTemplate): Promise<TemplateRecord> {
    const bound: AccountBound = {
      accountId: t.accountId,
      max: t.maxPerAccount ?? 0,
      // A deleted one is gone at once (hidden from searches and creates; instances made from it keep their copy).
      count: (q) => countRows(q.selectFrom('templates').where('account_id', '=', t.accountId).where('deleted_at', 'is', null)),
      refuse: (max) => new GantryError('TEMPLATE_LIMIT', `An account holds at most ${max} templates; delete one first.`, { limit: max }),
    };
    return boundedInsert(this.db, this.dialect, bound, (q) => this.#insertTemplate(q, t));
  }

  async #insertTemplate(db: Kysely<Database>, t: NewTemplate): Promise<TemplateRecord> {
    const row = await db
      .insertInto('templates')
      .values({
        account_id: t.accountId,
        hash_id: t.hashId,
        private: t.private ? 1 : 0,
        spec_json: JSON.stringify(t.spec),
        created_at: t.now,
        updated_at: t.now,
        deleted_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toTemplate(row);
  }

  async getTemplate(id: number): Promise<TemplateRecord | undefined> {
    const r = await this.db.selectFrom('templates').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    return r && toTemplate(r);
  }

  async findTemplatesByHash(hashId: string, accountId: number): Promise<TemplateRecord[]> {
    const rows = await this.db
      .selectFrom('templates')
      .selectAll()
      .where('hash_id', '=', hashId)
      .where('deleted_at', 'is', null)
      .where((eb) => eb.or([eb('account_id', '=', accountId), eb('private', '=', 0)]))
      .orderBy('id')
      .execute();
    const all = rows.map(toTemplate);
    return [...all.filter((t) => t.accountId === accountId), ...all.filter((t) => t.accountId !== accountId)];
  }

  async listVisibleTemplates(accountId: number): Promise<TemplateRecord[]> {
    const rows = await this.db
      .selectFrom('templates')
      .selectAll()
      .where('deleted_at', 'is', null)
      .where((eb) => eb.or([eb('account_id', '=', accountId), eb('private', '=', 0)]))
      .orderBy('id')
      .execute();
    return rows.map(toTemplate);
  }

  async updateTemplate(id: number, t: { hashId: string; private: boolean; spec: TemplateSpec; now: number }): Promise<boolean> {
    const r = await this.db
      .updateTable('templates')
      .set({ hash_id: t.hashId, private: t.private ? 1 : 0, spec_json: JSON.stringify(t.spec), updated_at: t.now })
      .where('id', '=', id)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async deleteTemplate(id: number, now: number): Promise<boolean> {
    const r = await this.db.updateTable('templates').set({ deleted_at: now }).where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }

  async setInstanceWorkload(
    id: number,
    w: {
      image: string;
      env: Readonly<Record<string, string>>;
      onstart: string | null;
      entrypoint: string | null;
      args: readonly string[] | null;
      runtype: string;
      template?: InstanceTemplate;
    },
  ): Promise<void> {
    await this.db
      .updateTable('instances')
      .set({
        image: w.image,
        env_json: JSON.stringify(w.env),
        onstart: w.onstart,
        entrypoint: w.entrypoint,
        args_json: w.args === null ? null : JSON.stringify(w.args),
        runtype: w.runtype,
        ...(w.template !== undefined ? { template_id: w.template.id, template_hash_id: w.template.hashId, template_name: w.template.name } : {}),
      })
      .where('id', '=', id)
      .execute();
  }
}
