import type { Kysely, SelectQueryBuilder } from 'kysely';
import type { GantryError } from '../../domain/errors.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { Database } from './schema.js';
import { inTransaction } from './tx.js';

type Db = Kysely<Database>;

export interface AccountBound {
  /** Whose row is held while counting: the account itself, or the top of its tree (subaccounts). */
  readonly accountId: number;
  /** 0 or less: no bound (no transaction, no lock). */
  readonly max: number;
  /** How many rows `insert` adds (default 1): refused when they would take `count` past `max`. */
  readonly adding?: number;
  readonly count: (db: Db) => Promise<number>;
  readonly refuse: (max: number) => GantryError;
}

/**
 * `insert`, under a bound on what an account holds (keys, host tokens, SSH keys, endpoints, workergroups, templates,
 * subaccounts, AI Core's catalog, ingest pipelines). The account's row is held while `count` reads and `insert`
 * writes (PostgreSQL: FOR NO KEY UPDATE, which a foreign key's check does not wait for), so creations at once, at
 * several replicas, are counted one after another and never pass the bound together. SQLite runs one writer at a
 * time. Inside a transaction already, it runs in that one.
 */
export async function boundedInsert<T>(db: Db, d: StoreDialect, b: AccountBound, insert: (db: Db) => Promise<T>): Promise<T> {
  if (b.max <= 0) return insert(db);
  const body = async (trx: Db): Promise<T> => {
    if (d.supportsSkipLocked) await trx.selectFrom('accounts').select('id').where('id', '=', b.accountId).forNoKeyUpdate().execute();
    if ((await b.count(trx)) + (b.adding ?? 1) > b.max) throw b.refuse(b.max);
    return insert(trx);
  };
  return inTransaction(db, body);
}

/** The rows a query selects from, counted (PostgreSQL's bigint count arrives as a string). */
export async function countRows<TB extends keyof Database>(q: SelectQueryBuilder<Database, TB, object>): Promise<number> {
  const r = await q.select((eb) => eb.fn.countAll<number | string | bigint>().as('n')).executeTakeFirstOrThrow();
  return Number(r.n);
}
