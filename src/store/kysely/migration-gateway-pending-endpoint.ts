import type { Kysely, Migration } from 'kysely';

/**
 * 0033: what the gateways hold is read per endpoint (a drain waits for the other replicas' requests; a pass
 * that would rest an endpoint asks whether any replica holds one), but the table is keyed by replica first.
 */
export const gatewayPendingEndpointMigration: Migration = {
  async up(db: Kysely<unknown>) {
    await db.schema.createIndex('gateway_pending_endpoint').on('gateway_pending').column('endpoint_id').execute();
  },
};
