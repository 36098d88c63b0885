import type { Transaction } from 'kysely';
import { transact } from './tx.js';
import { GantryError } from '../../domain/errors.js';
import { definitionMissing, modelNotFound } from '../../domain/ml/models.js';
import type { PipelineRecord, TrainedModelConfig, TrainedModelRecord, VocabularyRecord } from '../../domain/ml/records.js';
import type { MlDefinitionStore, MlStore, ModelAlias } from '../ml-store.js';
import { toPipeline, toTrainedModel } from './ml-rows.js';
import type { Database } from './schema.js';
import { Repo } from './repo.js';
import { boundedInsert, countRows, type AccountBound } from './account-bound.js';
import { DEFINED } from './ml-definition-state.js';

/**
 * Within the transaction that writes a deployment serving a trained model: lock the model's row, which must be
 * there and fully defined (MODEL_NOT_FOUND, MODEL_DEFINITION_MISSING). A model delete takes the same row's lock,
 * so it either commits before this (and the deployment is refused) or waits until the deployment is written,
 * where the delete's look at the model's deployments after its own commit finds it, on any replica.
 */
export async function holdServedModel(trx: Transaction<Database>, accountId: number, modelId: string): Promise<void> {
  // A write, not a read, so that it locks the row on PostgreSQL as on SQLite (as putVocabulary does).
  const held = await trx
    .updateTable('ml_models')
    .set({ fully_defined: DEFINED })
    .where('account_id', '=', accountId)
    .where('model_id', '=', modelId)
    .where('fully_defined', '=', DEFINED)
    .executeTakeFirst();
  if (Number(held.numUpdatedRows) > 0) return;
  const m = await trx.selectFrom('ml_models').select('model_id').where('account_id', '=', accountId).where('model_id', '=', modelId).executeTakeFirst();
  throw m === undefined ? modelNotFound(modelId) : definitionMissing(modelId);
}

/** Trained models, vocabularies, aliases and ingest pipelines; their definition parts are MlDefinitionRepo's. */
export class MlRepo extends Repo implements Omit<MlStore, keyof MlDefinitionStore> {
  async createTrainedModel(m: { accountId: number; modelId: string; config: TrainedModelConfig; now: number; max?: number }): Promise<TrainedModelRecord> {
    const row = {
      account_id: m.accountId,
      model_id: m.modelId,
      config_json: JSON.stringify(m.config),
      created_at: m.now,
      total_parts: null,
      total_definition_length: null,
      fully_defined: 0,
      onnx_json: null,
      parts_updated_at: null,
      parts_version: 0,
      check_claimed_at: null,
      check_attempts: 0,
      definition_refusal: null,
    };
    const bound: AccountBound = {
      accountId: m.accountId,
      max: m.max ?? 0,
      // An id taken already is MODEL_EXISTS (the insert's), as in Elasticsearch, whatever the count.
      count: async (q) => {
        const held = await q.selectFrom('ml_models').select('model_id').where('account_id', '=', m.accountId).execute();
        return held.some((h) => h.model_id === m.modelId) ? 0 : held.length;
      },
      refuse: (max) => new GantryError('TRAINED_MODEL_LIMIT', `An account holds at most ${max} trained models; delete one first.`, { limit: max }),
    };
    try {
      await boundedInsert(this.db, this.dialect, bound, (q) => q.insertInto('ml_models').values(row).execute());
    } catch (err) {
      if (this.dialect.isUniqueViolation(err))
        throw new GantryError('MODEL_EXISTS', `Trained machine learning model [${m.modelId}] already exists`, { modelId: m.modelId });
      throw err;
    }
    return toTrainedModel(row);
  }

  async getTrainedModel(accountId: number, modelId: string): Promise<TrainedModelRecord | undefined> {
    const r = await this.db.selectFrom('ml_models').selectAll().where('account_id', '=', accountId).where('model_id', '=', modelId).executeTakeFirst();
    return r && toTrainedModel(r);
  }

  async listTrainedModels(accountId: number): Promise<TrainedModelRecord[]> {
    const rows = await this.db.selectFrom('ml_models').selectAll().where('account_id', '=', accountId).orderBy('model_id').execute();
    return rows.map(toTrainedModel);
  }

  async deleteTrainedModel(accountId: number, modelId: string): Promise<boolean> {
    // The model row first: part and vocabulary writes lock it before they write, so one that raced
    // this delete either committed before (and its rows go below) or finds no model.
    return transact(this.db, async (trx) => {
      const r = await trx.deleteFrom('ml_models').where('account_id', '=', accountId).where('model_id', '=', modelId).executeTakeFirst();
      await trx.deleteFrom('ml_model_parts').where('account_id', '=', accountId).where('model_id', '=', modelId).execute();
      await trx.deleteFrom('ml_vocabularies').where('account_id', '=', accountId).where('model_id', '=', modelId).execute();
      await trx.deleteFrom('ml_model_aliases').where('account_id', '=', accountId).where('model_id', '=', modelId).execute();
      return Number(r.numDeletedRows) > 0;
    });
  }

  async putVocabulary(accountId: number, modelId: string, v: VocabularyRecord): Promise<boolean> {
    return transact(this.db, async (trx) => {
      // Lock the model row (a write, not a read) so a concurrent delete waits or has already won.
      const m = await trx
        .updateTable('ml_models')
        .set({ model_id: modelId })
        .where('account_id', '=', accountId)
        .where('model_id', '=', modelId)
        .executeTakeFirst();
      if (Number(m.numUpdatedRows) === 0) return false;
      await trx.deleteFrom('ml_vocabularies').where('account_id', '=', accountId).where('model_id', '=', modelId).execute();
      await trx
        .insertInto('ml_vocabularies')
        .values({ account_id: accountId, model_id: modelId, vocabulary_json: JSON.stringify(v) })
        .execute();
      return true;
    });
  }

  async getVocabulary(accountId: number, modelId: string): Promise<VocabularyRecord | undefined> {
    const r = await this.db
      .selectFrom('ml_vocabularies')
      .select('vocabulary_json')
      .where('account_id', '=', accountId)
      .where('model_id', '=', modelId)
      .executeTakeFirst();
    return r && (JSON.parse(r.vocabulary_json) as VocabularyRecord);
  }

  async putPipeline(accountId: number, id: string, body: Readonly<Record<string, unknown>>, now: number, maxPerAccount = 0): Promise<PipelineRecord> {
    const json = JSON.stringify(body);
    const update = async (): Promise<boolean> => {
      const r = await this.db
        .updateTable('ml_pipelines')
        .set({ body_json: json, updated_at: now })
        .where('account_id', '=', accountId)
        .where('id', '=', id)
        .executeTakeFirst();
      return Number(r.numUpdatedRows) > 0;
    };
    const bound: AccountBound = {
      accountId,
      max: maxPerAccount,
      count: (q) => countRows(q.selectFrom('ml_pipelines').where('account_id', '=', accountId)),
      refuse: (max) => new GantryError('PIPELINE_LIMIT', `An account holds at most ${max} ingest pipelines; delete one first.`, { limit: max }),
    };
    if (!(await update())) {
      try {
        await boundedInsert(this.db, this.dialect, bound, (q) =>
          q.insertInto('ml_pipelines').values({ account_id: accountId, id, body_json: json, created_at: now, updated_at: now }).execute(),
        );
      } catch (err) {
        // Another writer created it between the two statements: ours replaces it, as a later PUT would (a replacement holds no more).
        const taken = this.dialect.isUniqueViolation(err) || (err instanceof GantryError && err.code === 'PIPELINE_LIMIT');
        if (!taken || !(await update())) throw err;
      }
    }
    const stored = await this.getPipeline(accountId, id);
    if (stored === undefined) throw new Error(`pipeline ${id} vanished while being written`);
    return stored;
  }

  async getPipeline(accountId: number, id: string): Promise<PipelineRecord | undefined> {
    const r = await this.db.selectFrom('ml_pipelines').selectAll().where('account_id', '=', accountId).where('id', '=', id).executeTakeFirst();
    return r && toPipeline(r);
  }

  async listPipelines(accountId: number): Promise<PipelineRecord[]> {
    const rows = await this.db.selectFrom('ml_pipelines').selectAll().where('account_id', '=', accountId).orderBy('id').execute();
    return rows.map(toPipeline);
  }

  async deletePipelines(accountId: number, ids: readonly string[]): Promise<number> {
    if (ids.length === 0) return 0;
    const r = await this.db.deleteFrom('ml_pipelines').where('account_id', '=', accountId).where('id', 'in', ids).executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async putModelAlias(accountId: number, alias: string, modelId: string, reassign: boolean, now: number): Promise<'created' | 'exists' | 'taken'> {
    const current = async (): Promise<string | undefined> =>
      (await this.db.selectFrom('ml_model_aliases').select('model_id').where('account_id', '=', accountId).where('alias', '=', alias).executeTakeFirst())
        ?.model_id;
    const held = await current();
    if (held === modelId) return 'exists';
    if (held !== undefined) {
      if (!reassign) return 'taken';
      // Compare-and-set on the model it pointed at: a concurrent move wins, ours answers from what is there now.
      const r = await this.db
        .updateTable('ml_model_aliases')
        .set({ model_id: modelId, created_at: now })
        .where('account_id', '=', accountId)
        .where('alias', '=', alias)
        .where('model_id', '=', held)
        .executeTakeFirst();
      if (Number(r.numUpdatedRows) > 0) return 'created';
      return (await current()) === modelId ? 'exists' : 'taken';
    }
    try {
      await this.db.insertInto('ml_model_aliases').values({ account_id: accountId, alias, model_id: modelId, created_at: now }).execute();
      return 'created';
    } catch (err) {
      // Another writer created it between the two statements.
      if (!this.dialect.isUniqueViolation(err)) throw err;
      return (await current()) === modelId ? 'exists' : 'taken';
    }
  }

  async deleteModelAlias(accountId: number, alias: string, modelId: string): Promise<boolean> {
    const r = await this.db
      .deleteFrom('ml_model_aliases')
      .where('account_id', '=', accountId)
      .where('alias', '=', alias)
      .where('model_id', '=', modelId)
      .executeTakeFirst();
    return Number(r.numDeletedRows) > 0;
  }

  async listModelAliases(accountId: number): Promise<ModelAlias[]> {
    const rows = await this.db.selectFrom('ml_model_aliases').select(['alias', 'model_id']).where('account_id', '=', accountId).orderBy('alias').execute();
    return rows.map((r) => ({ alias: r.alias, modelId: r.model_id }));
  }
}
