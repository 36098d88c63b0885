import type { Kysely, Migration } from 'kysely';

/**
 * 0037: what guards the outcome of a trained model's definition check, and how often it was taken again.
 * - `parts_version`: moved by every write or removal of the model's parts, in the statement that marks them
 *   changed; a check's outcome is recorded only while it is the one the check read. Two last parts written in
 *   the same millisecond left `parts_updated_at` (the guard before) unchanged. Rows start at 0: a check under way
 *   across the upgrade read no version, and was guarded by `parts_updated_at`, which the guard still compares.
 * - `check_claimed_at`: when housekeeping last took the whole definition to check it again. A claim moved
 *   `parts_updated_at` before, so the outcome of a check that ran past the wait (a slow database) was dropped.
 * - `check_attempts`: those claims since the parts last changed; past a bound the definition is refused
 *   (one that brings its process down would be checked again every ten minutes, forever).
 * - `definition_refusal`: why the check refused the definition, for its owner to read.
 * Existing rows get no claim and no attempt: one whose check never ended waits from its `parts_updated_at`,
 * which an earlier claim had moved, as it did before.
 */
export const mlPartsVersionMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema
      .alterTable('ml_models')
      .addColumn('parts_version', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('ml_models').addColumn('check_claimed_at', 'bigint').execute();
    await db.schema
      .alterTable('ml_models')
      .addColumn('check_attempts', 'integer', (c) => c.notNull().defaultTo(0))
      .execute();
    await db.schema.alterTable('ml_models').addColumn('definition_refusal', 'text').execute();
  },
};
