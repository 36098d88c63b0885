import type { Kysely, Migration } from 'kysely';

/**
 * 0015: bids that can be outbid, CPU capacity and reserved-instance deposits.
 * - `gpu_wait_since`: the instance wants to run but holds no GPUs (outbid, or waiting for a preempted bid to
 *   stop); the oldest of the highest bids wins them first.
 * - `cpu_cores`, `ram_mb`: what the instance was placed with; `cpu_allocations` holds them while it holds
 *   compute, as `gpu_allocations` holds GPUs (null on instances made before: not counted).
 * - `deposit`, `deposit_discount`: credit prepaid into a reserved instance and the discount it earned.
 */
export const bidsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    for (const [col, type] of [
      ['gpu_wait_since', 'bigint'],
      ['cpu_cores', 'double precision'],
      ['ram_mb', 'double precision'],
      ['deposit_discount', 'double precision'],
    ] as const) {
      await db.schema.alterTable('instances').addColumn(col, type).execute();
    }
    await db.schema
      .alterTable('instances')
      .addColumn('deposit', 'double precision', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema
      .createTable('cpu_allocations')
      .addColumn('instance_id', 'integer', (c) => c.primaryKey().references('instances.id'))
      .addColumn('machine_id', 'integer', (c) => c.notNull())
      .addColumn('cpu_cores', 'double precision', (c) => c.notNull())
      .addColumn('ram_mb', 'double precision', (c) => c.notNull())
      .execute();
    await db.schema.createIndex('cpu_allocations_machine').on('cpu_allocations').column('machine_id').execute();
  },
};
