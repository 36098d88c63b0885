import type { Kysely, Migration } from 'kysely';

/**
 * 0022: lookups on hot paths that scanned a table. Listing instances reads each one's GPUs and ports
 * by instance (both tables are keyed by machine); the offers index reads which hosts sent a heartbeat
 * since its last look, every second on every replica.
 */
export const lookupIndexesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createIndex('gpu_allocations_instance').on('gpu_allocations').column('instance_id').execute();
    await db.schema.createIndex('port_allocations_instance').on('port_allocations').column('instance_id').execute();
    await db.schema.createIndex('machines_last_seen').on('machines').column('last_seen_at').execute();
  },
};
