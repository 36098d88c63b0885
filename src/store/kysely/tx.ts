import type { Kysely, Transaction } from 'kysely';
import { isRetryable, RETRY_ATTEMPTS, retryPause } from '../dialects/pg-retry.js';
import { WriteWatch } from './write-watch.js';

/**
 * PostgreSQL aborts one of two transactions that wait on each other (deadlock_detected, after
 * deadlock_timeout) or that cannot be serialised (serialization_failure), and expects the caller to run
 * it again. Lock order cannot be one order everywhere here: a status write locks the instance then its
 * machine (placement; one that gives GPUs back takes both before writing: observation.ts), a machine delete the machine then its instances, a charge the instance then
 * (through its foreign key) the machine. So every store transaction runs through `transact`, which runs
 * the body again on those two codes. Bodies only talk to the database, so running one again is safe.
 * SQLite has one writer and never raises them. A commit is also when cached listings learn that the
 * transaction's writes are visible (WriteWatch).
 */
export async function transact<DB, T>(db: Kysely<DB>, body: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  const watch = WriteWatch.of(db);
  for (let attempt = 1; ; attempt++) {
    const seq = watch?.seq ?? 0;
    try {
      const out = await db.transaction().execute(body);
      watch?.committed(seq);
      return out;
    } catch (err) {
      if (!isRetryable(err) || attempt >= RETRY_ATTEMPTS) throw err;
      await retryPause(attempt);
    }
  }
}

/** `body` in the transaction `db` is already (a bound's), or in one of its own. */
export async function inTransaction<DB, T>(db: Kysely<DB>, body: (trx: Kysely<DB>) => Promise<T>): Promise<T> {
  return db.isTransaction ? body(db) : transact(db, body);
}
