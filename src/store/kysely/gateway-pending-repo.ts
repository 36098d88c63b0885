import type { ServerlessStore } from '../serverless-store.js';
import { Repo } from './repo.js';

export type GatewayPendingStore = Pick<ServerlessStore, 'putGatewayPending' | 'gatewayPendingElsewhere' | 'gatewaysPublishedSince' | 'pruneGatewayPending'>;

/**
 * What each replica's gateway holds per endpoint (gateway_pending), so a drain at any replica waits for
 * the requests the others hold; one repository of the store, KyselyStore exposes its methods.
 */
export class GatewayPendingRepo extends Repo implements GatewayPendingStore {
  async putGatewayPending(replica: string, endpointId: number, pending: number, now: number): Promise<void> {
    await this.db
      .insertInto('gateway_pending')
      .values({ replica, endpoint_id: endpointId, pending, updated_at: now })
      .onConflict((oc) => oc.columns(['replica', 'endpoint_id']).doUpdateSet({ pending, updated_at: now }))
      .execute();
  }

  async gatewayPendingElsewhere(endpointId: number, exceptReplica: string, freshSince: number): Promise<number> {
    const r = await this.db
      .selectFrom('gateway_pending')
      .select((eb) => eb.fn.sum<number>('pending').as('n'))
      .where('endpoint_id', '=', endpointId)
      .where('replica', '!=', exceptReplica)
      .where('updated_at', '>=', freshSince)
      .executeTakeFirst();
    return Number(r?.n ?? 0);
  }

  async gatewaysPublishedSince(endpointId: number, liveSince: number, since: number): Promise<boolean> {
    const rows = await this.db
      .selectFrom('gateway_pending')
      .select(['replica', 'endpoint_id', 'updated_at'])
      .where('endpoint_id', 'in', [0, endpointId])
      .where('updated_at', '>=', Math.min(liveSince, since))
      .execute();
    const published = new Set(rows.filter((r) => Number(r.endpoint_id) === endpointId && Number(r.updated_at) >= since).map((r) => r.replica));
    return rows.every((r) => Number(r.endpoint_id) !== 0 || Number(r.updated_at) < liveSince || published.has(r.replica));
  }

  async pruneGatewayPending(before: number): Promise<number> {
    const r = await this.db.deleteFrom('gateway_pending').where('updated_at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
