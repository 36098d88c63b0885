import type { ExpressionBuilder, Kysely } from 'kysely';
import { GantryError } from '../../domain/errors.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { EndpointRename } from '../serverless-store.js';
import type { Database } from './schema.js';
import { transact } from './tx.js';

/**
 * An endpoint's new name, written only while the rules `updateEndpoint` checked still hold. Aliases name
 * their target by name, so the checks are made again in the write itself, not only in reads before it: a
 * rename and another rename at once cannot both pass on what each read before the other wrote. SQLite runs
 * one statement at a time; on PostgreSQL two statements at the very same moment may each miss the other's
 * uncommitted row, a window of one statement rather than of a request.
 *
 * An alias's create holds its target's row while it checks and writes (endpoint-alias.ts). On PostgreSQL the
 * row is therefore taken first, in a statement of its own: the guarded write that follows reads a snapshot
 * taken once an alias create holding the row has committed, so it sees that alias (one write alone would have
 * read its snapshot before waiting for the row, and renamed the target from under the new alias). On SQLite
 * the one statement is enough: no other write runs while it does.
 */
export async function renameEndpoint(db: Kysely<Database>, d: StoreDialect, w: EndpointRename): Promise<boolean> {
  try {
    if (!d.supportsSkipLocked) return await guardedRename(db, w);
    return await transact(db, async (trx) => {
      await trx.selectFrom('endpoints').select('id').where('id', '=', w.id).forNoKeyUpdate().execute();
      return guardedRename(trx, w);
    });
  } catch (err) {
    if (d.isUniqueViolation(err)) throw new GantryError('NAME_TAKEN', `You already have an endpoint named '${w.to}'.`, { name: w.to });
    throw err;
  }
}

async function guardedRename(db: Kysely<Database>, w: EndpointRename): Promise<boolean> {
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
}
