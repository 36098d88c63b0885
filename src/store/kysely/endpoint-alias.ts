import type { Kysely } from 'kysely';
import { aliasNameRoutedTo, aliasOfAlias, aliasTargetMissing } from '../../domain/serverless/aliases.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { Database } from './schema.js';

/**
 * A route alias's target, checked in the transaction that writes the alias, with the target's row held. Aliases
 * name their target by name, and a rename checks for them as it writes (endpoint-rename.ts); an alias written
 * on a read made before it could name what a rename meanwhile left. On PostgreSQL the row is held FOR SHARE:
 * a rename under way is waited for and the row then read as it left it (renamed: no target), and a rename that
 * comes later waits for the alias's commit and then sees the alias. SQLite runs one writer at a time.
 */
export async function checkAliasTarget(
  trx: Kysely<Database>,
  d: StoreDialect,
  n: { readonly accountId: number; readonly name: string; readonly aliasOf: string },
): Promise<void> {
  let q = trx.selectFrom('endpoints').select(['id', 'alias_of']).where('account_id', '=', n.accountId).where('live_name', '=', n.aliasOf);
  if (d.supportsSkipLocked) q = q.forShare();
  const target = await q.executeTakeFirst();
  if (target === undefined) throw aliasTargetMissing(n.aliasOf);
  if (target.alias_of !== null) throw aliasOfAlias(n.aliasOf);
  const refs = await trx
    .selectFrom('endpoints')
    .select('name')
    .where('account_id', '=', n.accountId)
    .where('alias_of', '=', n.name)
    .where('status', '!=', 'deleted')
    .orderBy('id')
    .execute();
  if (refs.length > 0)
    throw aliasNameRoutedTo(
      n.name,
      refs.map((r) => r.name),
      'endpointName',
    );
}
