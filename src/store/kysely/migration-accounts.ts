import type { Kysely, Migration } from 'kysely';

/** 0019: an account's full name, which Vast's `set user` sets and `show user` shows (null: show the username). */
export const accountsMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('accounts').addColumn('fullname', 'text').execute();
  },
};
