import type { Kysely, Migration } from 'kysely';

/**
 * 0020: the Vast template an instance was made (or last updated) from: its id, hash and name as they were
 * then, so a later edit or delete of the template does not change what the instance says it came from.
 */
export const instanceTemplateMigration: Migration = {
  async up(db: Kysely<unknown>) {
    for (const [col, type] of [
      ['template_id', 'integer'],
      ['template_hash_id', 'text'],
      ['template_name', 'text'],
    ] as const) {
      await db.schema.alterTable('instances').addColumn(col, type).execute();
    }
  },
};
