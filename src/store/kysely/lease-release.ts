import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';

interface Release {
  readonly id: number;
  readonly token: string;
  readonly now: number;
  resolve(): void;
  reject(err: unknown): void;
}

/** Rows per UPDATE: four parameters each, far below either database's limit. */
const MAX_BATCH = 500;

/**
 * Lease releases as group commits. The reconciler releases every row it looked at, and at fleet scale
 * (bench/scale.ts: 100,000 instances) one UPDATE and one WAL flush per row was the whole cost of a pass.
 * A release goes out at once when none is in flight; those that arrive meanwhile go together in the next
 * UPDATE, each still guarded by its own token and stamped with its own time. Each caller's promise settles
 * with the statement that carried its row, so a release is done when it resolves, as before.
 */
export class LeaseReleases {
  readonly #db: Kysely<Database>;
  #queue: Release[] = [];
  #flushing = false;

  constructor(db: Kysely<Database>) {
    this.#db = db;
  }

  release(id: number, token: string, now: number): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#queue.push({ id, token, now, resolve, reject });
      if (!this.#flushing) void this.#flush();
    });
  }

  async #flush(): Promise<void> {
    this.#flushing = true;
    try {
      while (this.#queue.length > 0) {
        const batch = this.#take();
        try {
          await this.#write(batch);
          for (const r of batch) r.resolve();
        } catch (err) {
          for (const r of batch) r.reject(err);
        }
      }
    } finally {
      this.#flushing = false;
    }
  }

  /** The oldest releases, one per row (a second release of the same row waits for the next statement, in order). */
  #take(): Release[] {
    const batch: Release[] = [];
    const ids = new Set<number>();
    const rest: Release[] = [];
    for (const r of this.#queue) {
      if (batch.length < MAX_BATCH && !ids.has(r.id)) {
        batch.push(r);
        ids.add(r.id);
      } else rest.push(r);
    }
    this.#queue = rest;
    return batch;
  }

  async #write(batch: readonly Release[]): Promise<void> {
    const first = batch[0];
    if (batch.length === 1 && first !== undefined) {
      await this.#db
        .updateTable('instances')
        .set({ lease_owner: null, lease_token: null, lease_expires_at: null, last_processed_at: first.now })
        .where('id', '=', first.id)
        .where('lease_token', '=', first.token)
        .execute();
      return;
    }
    const at = sql<number>`CASE id ${sql.join(
      batch.map((r) => sql`WHEN ${r.id} THEN CAST(${r.now} AS BIGINT)`),
      sql` `,
    )} END`;
    await this.#db
      .updateTable('instances')
      .set({ lease_owner: null, lease_token: null, lease_expires_at: null, last_processed_at: at })
      .where((eb) => eb.or(batch.map((r) => eb.and([eb('id', '=', r.id), eb('lease_token', '=', r.token)]))))
      .execute();
  }
}
