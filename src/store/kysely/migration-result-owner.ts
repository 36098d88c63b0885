import type { Kysely, Migration } from 'kysely';

/**
 * 0035: a result (logs, `execute` output) names the account that asked for it, so an account keeps a bounded
 * number alive (maxResultsPerAccount): at the instances' rate, one key kept gigabytes for resultTtlMs.
 * Results written before it have no owner and expire as before.
 */
export const resultOwnerMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.alterTable('results').addColumn('account_id', 'integer').execute();
    await db.schema.createIndex('results_account').on('results').columns(['account_id', 'expires_at']).execute();
  },
};
