import type { Kysely, Transaction } from 'kysely';

/**
 * PostgreSQL aborts one of two transactions that wait on each other (deadlock_detected, after
 * deadlock_timeout) or that cannot be serialised (serialization_failure), and expects the caller to run
 * it again. Lock order cannot be one order everywhere here: a status write locks the instance then its
 * machine (placement), a machine delete the machine then its instances, a charge the instance then
 * (through its foreign key) the machine. So every store transaction runs through `transact`, which runs
 * the body again on those two codes. Bodies only talk to the database, so running one again is safe.
 * SQLite has one writer and never raises them.
 */
const RETRYABLE = new Set(['40P01', '40001']);
const ATTEMPTS = 5;

export function isRetryable(err: unknown): boolean {
  return typeof err === 'object' && err !== null && RETRYABLE.has(String((err as { code?: unknown }).code));
}

export async function transact<DB, T>(db: Kysely<DB>, body: (trx: Transaction<DB>) => Promise<T>): Promise<T> {
  for (let attempt = 1; ; attempt++) {
    try {
      return await db.transaction().execute(body);
    } catch (err) {
      if (!isRetryable(err) || attempt >= ATTEMPTS) throw err;
      // A little jitter, so the two that collided do not meet again at once.
      await new Promise((r) => setTimeout(r, Math.random() * 10 * attempt));
    }
  }
}
