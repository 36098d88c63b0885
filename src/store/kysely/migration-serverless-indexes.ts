import { sql, type Kysely, type Migration } from 'kysely';

/**
 * 0036: serverless lookups that scanned their tables.
 * - workergroups: every serverless pass, every gateway's worker list and every create or move under a bound
 *   read an endpoint's live groups (`endpoint_id`, in id order); an account's listing and its bound read its
 *   live ones (`account_id`). Only live rows are read, and a deleted group stays as a row (each change of
 *   configuration leaves one), so both indexes hold live rows only.
 * - deployments: every serverless pass of an endpoint looks up its deployment (`findDeploymentByEndpoint`,
 *   live, or the newest with the deleted ones).
 * - instances: an endpoint's workers (`listWorkers`, every pass and every gateway's list). Most instances are
 *   no endpoint's, so the index holds workers only.
 */
export const serverlessIndexesMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await sql`CREATE INDEX workergroups_endpoint ON workergroups (endpoint_id, id) WHERE deleted_at IS NULL`.execute(db);
    await sql`CREATE INDEX workergroups_account ON workergroups (account_id, id) WHERE deleted_at IS NULL`.execute(db);
    await sql`CREATE INDEX deployments_endpoint ON deployments (endpoint_id, id)`.execute(db);
    await sql`CREATE INDEX instances_endpoint ON instances (endpoint_id, id) WHERE endpoint_id IS NOT NULL`.execute(db);
  },
};
