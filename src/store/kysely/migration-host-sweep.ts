import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 0024: the host sweep (decision 017). A machine row carries the sweep's lease (the same three columns
 * as an instance's, so one claim serves both) and when it was last swept. The reconciler no longer
 * claims every row by time, only pending and unsettled ones (plus hinted ids), so `instances_due`, an index
 * over every live row by last look, gives way to two small ones over exactly those rows: the claim's
 * predicates repeat theirs word for word, so both databases use them. The statuses are
 * `UNSETTLED_STATUSES` (domain/instance/sweep.ts), written out: a migration must not change with the code.
 */
export const hostSweepMigration: Migration = {
  async up(db: Kysely<unknown>) {
    for (const [name, type] of [
      ['lease_owner', 'text'],
      ['lease_token', 'text'],
      ['lease_expires_at', 'bigint'],
      ['last_swept_at', 'bigint'],
    ] as const)
      await db.schema.alterTable('machines').addColumn(name, type).execute();
    await sql`DROP INDEX instances_due`.execute(db);
    await sql`CREATE INDEX instances_pending ON instances (last_processed_at, id) WHERE generation > observed_generation AND status <> 'destroyed'`.execute(db);
    await sql`CREATE INDEX instances_unsettled ON instances (last_processed_at, id) WHERE status IN ('loading', 'rebooting', 'stopping', 'failed', 'unknown')`.execute(
      db,
    );
  },
};
