import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 0023: two scans that grew with the fleet (bench/scale.ts: 100,000 instances on 10,000 machines).
 * The reconciler's claim (kysely-store.ts `claimInstances`) takes the longest-unobserved live rows first;
 * without an index in that order every claim of a few rows read and sorted the whole table (on disk:
 * FOR UPDATE sits between the sort and the limit), so a pass cost n/8 full scans. The orphan sweep reads
 * each connected host's live instances, and heartbeats with usage check theirs, by machine: one full
 * scan per host without an index on machine_id.
 */
export const fleetScaleIndexesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`CREATE INDEX instances_due ON instances (last_processed_at, id) WHERE status <> 'destroyed'`.execute(db);
    await db.schema.createIndex('instances_machine').on('instances').column('machine_id').execute();
  },
};
