import type { Kysely } from 'kysely';
import { GantryError } from '../../domain/errors.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { Database } from './schema.js';

/**
 * A deployment's endpoint holds only the workergroups its deployment makes: the deployment reads its serving
 * group and the one a change of configuration rolls to from the endpoint's list (the loop retires the others), so
 * a group moved or created there would be taken for one of them, and its own group moved away would leave it with
 * none. Both sides decide with the endpoint's row held, so each sees what the other wrote: a workergroup's create
 * or move holds its endpoints FOR SHARE (PostgreSQL) and then looks for a deployment; a deployment's write holds
 * its endpoint FOR NO KEY UPDATE and then reads the endpoint's groups (`checkDeploymentGroups`). SQLite runs one
 * writer at a time.
 */
export async function refuseDeploymentEndpoints(
  trx: Kysely<Database>,
  d: StoreDialect,
  endpointIds: readonly number[],
  refuse: (deployment: { readonly id: number; readonly endpointId: number }) => GantryError,
): Promise<void> {
  const ids = [...new Set(endpointIds)].sort((a, b) => a - b);
  if (d.supportsSkipLocked) await trx.selectFrom('endpoints').select('id').where('id', 'in', ids).orderBy('id').forShare().execute();
  const dep = await trx
    .selectFrom('deployments')
    .select(['id', 'endpoint_id'])
    .where('endpoint_id', 'in', ids)
    .where('deleted_at', 'is', null)
    .orderBy('id')
    .executeTakeFirst();
  if (dep !== undefined) throw refuse({ id: dep.id, endpointId: dep.endpoint_id });
}

/** A new deployment's endpoint, held; refused unless its workergroup is the endpoint's only live one. */
export async function checkDeploymentGroups(
  trx: Kysely<Database>,
  d: StoreDialect,
  n: { readonly endpointId: number; readonly workergroupId: number },
): Promise<void> {
  if (d.supportsSkipLocked) await trx.selectFrom('endpoints').select('id').where('id', '=', n.endpointId).forNoKeyUpdate().execute();
  const groups = await trx.selectFrom('workergroups').select('id').where('endpoint_id', '=', n.endpointId).where('deleted_at', 'is', null).execute();
  if (groups.length === 1 && groups[0]?.id === n.workergroupId) return;
  throw new GantryError(
    'DEPLOYMENT_MANAGED',
    `Endpoint ${n.endpointId}'s workergroups changed while its deployment was being made (a workergroup was created on it or moved onto or off it); the deployment was not made.`,
    { endpointId: n.endpointId, workergroupId: n.workergroupId },
  );
}
