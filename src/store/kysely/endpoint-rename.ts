import type { ExpressionBuilder, Kysely } from 'kysely';
import { GantryError } from '../../domain/errors.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { EndpointRename } from '../serverless-store.js';
import type { Database } from './schema.js';

/**
 * An endpoint's new name, written only while the rules `updateEndpoint` checked still hold. Aliases name
 * their target by name, so the checks are made again in the write itself, not only in reads before it: a
 * rename and another rename at once cannot both pass on what each read before the other wrote. SQLite runs
 * one statement at a time; on PostgreSQL two statements at the very same moment may each miss the other's
 * uncommitted row, a window of one statement rather than of a request.
 */
export async function renameEndpoint(db: Kysely<Database>, d: StoreDialect, w: EndpointRename): Promise<boolean> {
  const aliasOf = (eb: ExpressionBuilder<Database, 'endpoints'>, name: string) =>
    eb.exists(
      eb
        .selectFrom('endpoints as a')
        .select('a.id')
        .where('a.account_id', '=', w.accountId)
        .where('a.alias_of', '=', name)
        .where('a.status', '!=', 'deleted')
        .where('a.id', '!=', w.id),
    );
  try {
    const r = await db
      .updateTable('endpoints')
      .set({ name: w.to, live_name: w.to, updated_at: w.now })
      .where('id', '=', w.id)
      .where('live_name', '=', w.from)
      .where((eb) => eb.not(aliasOf(eb, w.from)))
      .where((eb) =>
        eb.not(
          eb.exists(
            eb.selectFrom('deployments').select('deployments.id').where('deployments.endpoint_id', '=', w.id).where('deployments.deleted_at', 'is', null),
          ),
        ),
      )
      .$if(w.isAlias, (q) => q.where('alias_of', 'is not', null).where((eb) => eb.not(aliasOf(eb, w.to))))
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  } catch (err) {
    if (d.isUniqueViolation(err)) throw new GantryError('NAME_TAKEN', `You already have an endpoint named '${w.to}'.`, { name: w.to });
    throw err;
  }
}
