import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 0036: workergroups were read by scanning the table. Every serverless pass, every gateway's worker list and
 * every create or move under a bound read an endpoint's live groups (`endpoint_id`, in id order); an account's
 * listing and its bound read its live ones (`account_id`). Only live rows are read, and a deleted group stays
 * as a row (each change of configuration leaves one), so both indexes hold live rows only.
 */
export const workergroupIndexesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`CREATE INDEX workergroups_endpoint ON workergroups (endpoint_id, id) WHERE deleted_at IS NULL`.execute(db);
    await sql`CREATE INDEX workergroups_account ON workergroups (account_id, id) WHERE deleted_at IS NULL`.execute(db);
  },
};
