import { randomUUID } from 'node:crypto';
import { transact } from './tx.js';
import { sql, type Kysely, type SelectQueryBuilder, type SqlBool, type Transaction } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { Database } from './schema.js';

/** Tables whose rows a loop claims with a lease (owner, token, expiry); a host's is the host sweep's. */
type Leased = 'instances' | 'endpoints' | 'host_sweeps';

type Due<T extends Leased> = SelectQueryBuilder<Database, T, { id: number }>;

/**
 * Claim rows for one loop pass: inside one transaction, pick due rows whose lease is free (PostgreSQL
 * skips rows another replica has locked) and stamp them with a fresh lease. The caller reads the rows
 * back by the returned token, so it gets exactly what it claimed. Shared by the instance reconciler,
 * the host sweep and the serverless loop, so all claim alike. `due` may give several queries, asked in
 * order until `limit` rows are picked (each a simple predicate an index serves: a union cannot be locked).
 */
export async function claimLeased<T extends Leased>(
  db: Kysely<Database>,
  dialect: StoreDialect,
  table: T,
  due: (trx: Transaction<Database>) => Due<T> | readonly Due<T>[],
  o: { readonly owner: string; readonly now: number; readonly leaseMs: number; readonly limit?: number },
): Promise<{ token: string; ids: number[] }> {
  const token = randomUUID();
  const ids = await transact(db, async (trx) => {
    const queries = due(trx);
    const picked: number[] = [];
    for (let q of Array.isArray(queries) ? (queries as readonly Due<T>[]) : [queries as Due<T>]) {
      const left = o.limit === undefined ? undefined : o.limit - picked.length;
      if (left !== undefined && left <= 0) break;
      if (left !== undefined) q = q.limit(left);
      if (picked.length > 0) q = q.where(sql<SqlBool>`NOT ${dialect.intIn('id', picked)}`);
      // NO KEY UPDATE, not UPDATE: the lease changes no key, and a row some other transaction only references
      // (a workergroup or an allocation being inserted holds KEY SHARE on it) must not be skipped: a skipped
      // row whose change woke this pass would wait for the next tick.
      if (dialect.supportsSkipLocked) q = q.forNoKeyUpdate().skipLocked();
      for (const r of await q.execute()) picked.push(r.id);
    }
    if (picked.length === 0) return [];
    // The three tables carry the same lease columns; kysely cannot prove that for a union of table names,
    // so the update is typed as the instances table's (the name used at run time is `table`).
    await trx
      .updateTable(table as 'instances')
      .set({ lease_owner: o.owner, lease_token: token, lease_expires_at: o.now + o.leaseMs })
      // One array parameter, not one per row: the host sweep claims thousands of machines at once.
      .where(dialect.intIn('id', picked))
      .execute();
    return picked;
  });
  return { token, ids };
}
