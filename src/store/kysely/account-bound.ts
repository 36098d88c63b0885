import type { Kysely } from 'kysely';
import type { GantryError } from '../../domain/errors.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { Database } from './schema.js';
import { transact } from './tx.js';

type Db = Kysely<Database>;

export interface AccountBound {
  /** Whose row is held while counting: the account itself, or the top of its tree (subaccounts). */
  readonly accountId: number;
  /** 0 or less: no bound (no transaction, no lock). */
  readonly max: number;
  readonly count: (db: Db) => Promise<number>;
  readonly refuse: (max: number) => GantryError;
}

/**
 * `insert`, under a bound on what an account holds (keys, host tokens, SSH keys, endpoints, subaccounts). The
 * account's row is held while `count` reads and `insert` writes (PostgreSQL: FOR NO KEY UPDATE, which a foreign
 * key's check does not wait for), so creations at once, at several replicas, are counted one after another and
 * never pass the bound together. SQLite runs one writer at a time. Inside a transaction already, it runs in that one.
 */
export async function boundedInsert<T>(db: Db, d: StoreDialect, b: AccountBound, insert: (db: Db) => Promise<T>): Promise<T> {
  if (b.max <= 0) return insert(db);
  const body = async (trx: Db): Promise<T> => {
    if (d.supportsSkipLocked) await trx.selectFrom('accounts').select('id').where('id', '=', b.accountId).forNoKeyUpdate().execute();
    if ((await b.count(trx)) >= b.max) throw b.refuse(b.max);
    return insert(trx);
  };
  return db.isTransaction ? body(db) : transact(db, body);
}

/** A count query's one value as a number (PostgreSQL's bigint count arrives as a string). */
export const counted = (r: { n: number | string | bigint }): number => Number(r.n);
