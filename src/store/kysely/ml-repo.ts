import { sql, type Transaction } from 'kysely';
import { transact } from './tx.js';
import { GantryError } from '../../domain/errors.js';
import { definitionMissing, modelNotFound } from '../../domain/ml/models.js';
import type { DefinitionProgress, PipelineRecord, TrainedModelConfig, TrainedModelRecord, VocabularyRecord } from '../../domain/ml/records.js';
import type { MlStore, ModelAlias } from '../ml-store.js';
import { toPipeline, toTrainedModel } from './ml-rows.js';
import type { Database } from './schema.js';
import { Repo } from './repo.js';
import { boundedInsert, countRows, type AccountBound } from './account-bound.js';
import { allPartsHeld, DEFINED, forgettable, REFUSED, UNCHECKED } from './ml-definition-state.js';

/** Models whose parts one housekeeping pass forgets (or finds unchecked) at most. */
const FORGET_BATCH = 100;

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

/** Trained models, definition parts (one row per part), vocabularies and ingest pipelines. */
export class MlRepo extends Repo implements MlStore {
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

  async putModelPart(
    accountId: number,
    modelId: string,
    p: { index: number; totalParts: number; totalDefinitionLength: number; bytes: Uint8Array },
    o: { now: number; maxAccountBytes: number },
  ): Promise<
    | { ok: true; progress: DefinitionProgress }
    | { ok: false; reason: 'no-model' | 'defined' | 'totals-differ' }
    | { ok: false; reason: 'over-limit'; heldBytes: number }
  > {
    return transact(this.db, async (trx) => {
      if (o.maxAccountBytes > 0) {
        // Every model row of the account locked, in one order: two parts of one account (on any
        // replica) are counted and stored one after the other, so neither passes the bound unseen.
        let models = trx.selectFrom('ml_models').select(['model_id', 'fully_defined']).where('account_id', '=', accountId).orderBy('model_id');
        if (this.dialect.supportsSkipLocked) models = models.forUpdate();
        const own = (await models.execute()).find((m) => m.model_id === modelId);
        if (own === undefined) return { ok: false as const, reason: 'no-model' as const };
        if (Number(own.fully_defined) === DEFINED) return { ok: false as const, reason: 'defined' as const };
        const sums = await trx
          .selectFrom('ml_model_parts')
          .select((eb) => [
            sql<number | string | null>`sum(case when ${eb.ref('model_id')} <> ${modelId} then length else 0 end)`.as('others'),
            sql<number | string | null>`sum(case when ${eb.ref('model_id')} = ${modelId} and ${eb.ref('part')} <> ${p.index} then length else 0 end)`.as(
              'mine',
            ),
          ])
          .where('account_id', '=', accountId)
          .executeTakeFirstOrThrow();
        const [others, mine] = [Number(sums.others ?? 0), Number(sums.mine ?? 0)];
        // The whole definition as declared counts from its first part: a model the bound cannot hold is refused
        // then, not gigabytes later at the part that passes it (whose parts would then hold the account's room).
        const heldBytes = others + mine;
        if (others + Math.max(p.totalDefinitionLength, mine + p.bytes.length) > o.maxAccountBytes)
          return { ok: false as const, reason: 'over-limit' as const, heldBytes };
      }
      // Compare-and-set: the first part fixes the totals, every later one must repeat them; a fully defined
      // model takes none (its deployments' workers load it). The row's lock orders this with the check's outcome.
      const set = await trx
        .updateTable('ml_models')
        .set({
          total_parts: p.totalParts,
          total_definition_length: p.totalDefinitionLength,
          fully_defined: UNCHECKED,
          onnx_json: null,
          parts_updated_at: o.now,
        })
        .where('account_id', '=', accountId)
        .where('model_id', '=', modelId)
        .where('fully_defined', '<>', DEFINED)
        .where((eb) =>
          eb.or([eb('total_parts', 'is', null), eb.and([eb('total_parts', '=', p.totalParts), eb('total_definition_length', '=', p.totalDefinitionLength)])]),
        )
        .executeTakeFirst();
      if (Number(set.numUpdatedRows) === 0) {
        const m = await trx
          .selectFrom('ml_models')
          .select('fully_defined')
          .where('account_id', '=', accountId)
          .where('model_id', '=', modelId)
          .executeTakeFirst();
        const reason = m === undefined ? ('no-model' as const) : Number(m.fully_defined) === DEFINED ? ('defined' as const) : ('totals-differ' as const);
        return { ok: false as const, reason };
      }
      await trx.deleteFrom('ml_model_parts').where('account_id', '=', accountId).where('model_id', '=', modelId).where('part', '=', p.index).execute();
      await trx
        .insertInto('ml_model_parts')
        .values({
          account_id: accountId,
          model_id: modelId,
          part: p.index,
          length: p.bytes.length,
          bytes: Buffer.from(p.bytes.buffer, p.bytes.byteOffset, p.bytes.length),
        })
        .execute();
      const sum = await trx
        .selectFrom('ml_model_parts')
        .select([sql<number | string>`count(*)`.as('parts'), sql<number | string | null>`sum(length)`.as('bytes')])
        .where('account_id', '=', accountId)
        .where('model_id', '=', modelId)
        .where('part', '<', p.totalParts)
        .executeTakeFirstOrThrow();
      return { ok: true as const, progress: { parts: Number(sum.parts), bytes: Number(sum.bytes ?? 0) } };
    });
  }

  async forgetIncompleteDefinitions(before: number): Promise<{ accountId: number; modelId: string }[]> {
    // A bounded batch per call, each model in a transaction of its own: a backlog (the first pass after
    // an upgrade) is worked off over several housekeeping passes, never as one transaction of gigabytes.
    const stale = await this.db
      .selectFrom('ml_models')
      .select(['account_id', 'model_id'])
      .where(forgettable(before))
      .orderBy('parts_updated_at')
      .limit(FORGET_BATCH)
      .execute();
    const forgotten: { accountId: number; modelId: string }[] = [];
    for (const m of stale) {
      const gone = await transact(this.db, async (trx) => {
        // The same conditions again: a part that arrived since keeps the model (its row lock orders the two).
        const r = await trx
          .updateTable('ml_models')
          .set({ total_parts: null, total_definition_length: null, fully_defined: UNCHECKED, onnx_json: null, parts_updated_at: null })
          .where('account_id', '=', m.account_id)
          .where('model_id', '=', m.model_id)
          .where(forgettable(before))
          .executeTakeFirst();
        if (Number(r.numUpdatedRows) === 0) return false;
        await trx.deleteFrom('ml_model_parts').where('account_id', '=', m.account_id).where('model_id', '=', m.model_id).execute();
        return true;
      });
      if (gone) forgotten.push({ accountId: m.account_id, modelId: m.model_id });
    }
    return forgotten;
  }

  async uncheckedDefinitions(before: number): Promise<{ accountId: number; modelId: string; totalParts: number; partsAt: number }[]> {
    const rows = await this.db
      .selectFrom('ml_models')
      .select(['account_id', 'model_id', 'total_parts', 'parts_updated_at'])
      .where('fully_defined', '=', UNCHECKED)
      .where('parts_updated_at', '<', before)
      .where(allPartsHeld)
      .orderBy('parts_updated_at')
      .limit(FORGET_BATCH)
      .execute();
    return rows.map((r) => ({ accountId: r.account_id, modelId: r.model_id, totalParts: Number(r.total_parts), partsAt: Number(r.parts_updated_at) }));
  }

  async claimDefinitionCheck(accountId: number, modelId: string, partsAt: number, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('ml_models')
      .set({ parts_updated_at: now })
      .where('account_id', '=', accountId)
      .where('model_id', '=', modelId)
      .where('fully_defined', '=', UNCHECKED)
      .where('parts_updated_at', '=', partsAt)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) > 0;
  }

  async readModelPart(accountId: number, modelId: string, index: number): Promise<Uint8Array | undefined> {
    const r = await this.db
      .selectFrom('ml_model_parts')
      .select('bytes')
      .where('account_id', '=', accountId)
      .where('model_id', '=', modelId)
      .where('part', '=', index)
      .executeTakeFirst();
    return r?.bytes;
  }

  async setModelDefinitionChecked(accountId: number, modelId: string, r: { fullyDefined: boolean; onnx: unknown }, partsAt?: number): Promise<boolean> {
    let q = this.db
      .updateTable('ml_models')
      .set({ fully_defined: r.fullyDefined ? DEFINED : REFUSED, onnx_json: r.onnx === null || r.onnx === undefined ? null : JSON.stringify(r.onnx) })
      .where('account_id', '=', accountId)
      .where('model_id', '=', modelId);
    if (partsAt !== undefined) q = q.where('fully_defined', '=', UNCHECKED).where('parts_updated_at', '=', partsAt);
    return Number((await q.executeTakeFirst()).numUpdatedRows) > 0;
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
