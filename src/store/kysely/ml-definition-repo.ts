import { sql, type ExpressionBuilder } from 'kysely';
import { transact } from './tx.js';
import type { PartsStamp } from '../../domain/ml/records.js';
import type { MlDefinitionStore, PartWritten } from '../ml-store.js';
import type { Database } from './schema.js';
import { Repo } from './repo.js';
import { allPartsHeld, DEFINED, forgettable, REFUSED, UNCHECKED } from './ml-definition-state.js';

/** Models whose parts one housekeeping pass forgets (or finds unchecked) at most. */
const FORGET_BATCH = 100;

/** What a write or removal of a model's parts sets on its row: a new version, and no claim or refusal of the old parts. */
const partsChanged = (eb: ExpressionBuilder<Database, 'ml_models'>) => ({
  parts_version: eb('parts_version', '+', 1),
  check_claimed_at: null,
  check_attempts: 0,
  definition_refusal: null,
});

/** Definition parts (one row per part) and the check of the whole: see MlDefinitionStore. */
export class MlDefinitionRepo extends Repo implements MlDefinitionStore {
  async putModelPart(
    accountId: number,
    modelId: string,
    p: { index: number; totalParts: number; totalDefinitionLength: number; bytes: Uint8Array },
    o: { now: number; maxAccountBytes: number },
  ): Promise<PartWritten> {
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
      // model takes none (its deployments' workers load it). The row's lock orders this with the check's outcome,
      // and the version it returns is this write's alone, however many parts come within the same millisecond.
      const set = await trx
        .updateTable('ml_models')
        .set((eb) => ({
          total_parts: p.totalParts,
          total_definition_length: p.totalDefinitionLength,
          fully_defined: UNCHECKED,
          onnx_json: null,
          parts_updated_at: o.now,
          ...partsChanged(eb),
        }))
        .where('account_id', '=', accountId)
        .where('model_id', '=', modelId)
        .where('fully_defined', '<>', DEFINED)
        .where((eb) =>
          eb.or([eb('total_parts', 'is', null), eb.and([eb('total_parts', '=', p.totalParts), eb('total_definition_length', '=', p.totalDefinitionLength)])]),
        )
        .returning('parts_version')
        .executeTakeFirst();
      if (set === undefined) {
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
      return {
        ok: true as const,
        progress: { parts: Number(sum.parts), bytes: Number(sum.bytes ?? 0) },
        stamp: { version: Number(set.parts_version), at: o.now },
      };
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
          .set((eb) => ({
            total_parts: null,
            total_definition_length: null,
            fully_defined: UNCHECKED,
            onnx_json: null,
            parts_updated_at: null,
            ...partsChanged(eb),
          }))
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

  async uncheckedDefinitions(before: number): Promise<{ accountId: number; modelId: string; totalParts: number; stamp: PartsStamp; attempts: number }[]> {
    const rows = await this.db
      .selectFrom('ml_models')
      .select(['account_id', 'model_id', 'total_parts', 'parts_updated_at', 'parts_version', 'check_attempts'])
      .where('fully_defined', '=', UNCHECKED)
      .where('parts_updated_at', '<', before)
      // Both, not the later of the two (SQLite's max, PostgreSQL's greatest): a part written by an earlier Gantry
      // during an upgrade leaves an older claim in place.
      .where((eb) => eb.or([eb('check_claimed_at', 'is', null), eb('check_claimed_at', '<', before)]))
      .where(allPartsHeld)
      .orderBy('parts_updated_at')
      .limit(FORGET_BATCH)
      .execute();
    return rows.map((r) => ({
      accountId: r.account_id,
      modelId: r.model_id,
      totalParts: Number(r.total_parts),
      stamp: { version: Number(r.parts_version), at: Number(r.parts_updated_at) },
      attempts: Number(r.check_attempts),
    }));
  }

  async claimDefinitionCheck(accountId: number, modelId: string, stamp: PartsStamp, attempts: number, now: number): Promise<boolean> {
    return this.#whileUnchecked(accountId, modelId, stamp, attempts, { check_claimed_at: now, check_attempts: attempts + 1 });
  }

  async giveUpDefinitionCheck(accountId: number, modelId: string, stamp: PartsStamp, attempts: number, reason: string): Promise<boolean> {
    return this.#whileUnchecked(accountId, modelId, stamp, attempts, { fully_defined: REFUSED, onnx_json: null, definition_refusal: reason });
  }

  /**
   * Writes `set` only while the definition is unchecked, its parts as `stamp` says and its claims `attempts`:
   * compare-and-set, so one replica of several acts. Guarded by the parts' time as well as their version, as an
   * outcome is: a model deleted and made again starts its version over, and a replica of before the version
   * moved only the time.
   */
  async #whileUnchecked(
    accountId: number,
    modelId: string,
    stamp: PartsStamp,
    attempts: number,
    set: { check_claimed_at: number; check_attempts: number } | { fully_defined: number; onnx_json: null; definition_refusal: string },
  ): Promise<boolean> {
    const r = await this.db
      .updateTable('ml_models')
      .set(set)
      .where('account_id', '=', accountId)
      .where('model_id', '=', modelId)
      .where('fully_defined', '=', UNCHECKED)
      .where('parts_version', '=', stamp.version)
      .where('parts_updated_at', '=', stamp.at)
      .where('check_attempts', '=', attempts)
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

  async setModelDefinitionChecked(
    accountId: number,
    modelId: string,
    r: { fullyDefined: boolean; onnx: unknown; refusal?: string },
    stamp?: PartsStamp,
  ): Promise<boolean> {
    let q = this.db
      .updateTable('ml_models')
      .set({
        fully_defined: r.fullyDefined ? DEFINED : REFUSED,
        onnx_json: r.onnx === null || r.onnx === undefined ? null : JSON.stringify(r.onnx),
        definition_refusal: r.fullyDefined ? null : (r.refusal ?? null),
      })
      .where('account_id', '=', accountId)
      .where('model_id', '=', modelId);
    if (stamp !== undefined) q = q.where('fully_defined', '<>', DEFINED).where('parts_version', '=', stamp.version).where('parts_updated_at', '=', stamp.at);
    return Number((await q.executeTakeFirst()).numUpdatedRows) > 0;
  }
}
