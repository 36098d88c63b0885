import { isDeepStrictEqual } from 'node:util';
import type { Kysely } from 'kysely';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { EndpointReconfigure } from '../serverless-store.js';
import type { Database } from './schema.js';
import { toEndpoint, toWorkergroup } from './serverless-rows.js';
import { transact } from './tx.js';

/**
 * An endpoint's scaling params and its workergroup's template, written together or not at all, and
 * only while both rows still hold what the caller decided on. Two replicas updating one deployment
 * at once would otherwise leave one's template beside the other's bounds, and an update decided on a
 * started deployment would land on one a stop had begun to stop meanwhile. On PostgreSQL the two rows
 * are locked (the endpoint, then its workergroup) so the check and the writes
 * see one state; SQLite runs one writer at a time.
 */
export async function reconfigureEndpoint(db: Kysely<Database>, d: StoreDialect, w: EndpointReconfigure): Promise<boolean> {
  return transact(db, async (trx) => {
    let eq = trx.selectFrom('endpoints').selectAll().where('id', '=', w.endpointId);
    if (d.supportsSkipLocked) eq = eq.forUpdate();
    const ep = await eq.executeTakeFirst();
    const row = ep === undefined ? undefined : toEndpoint(ep);
    if (row === undefined || row.generation !== w.expected.generation || !isDeepStrictEqual(row.params, w.expected.params)) return false;
    if (w.workergroup !== null) {
      let wq = trx.selectFrom('workergroups').selectAll().where('id', '=', w.workergroup.id).where('deleted_at', 'is', null);
      if (d.supportsSkipLocked) wq = wq.forUpdate();
      const wg = await wq.executeTakeFirst();
      if (wg === undefined || !isDeepStrictEqual(toWorkergroup(wg).template, w.workergroup.expected)) return false;
      await trx
        .updateTable('workergroups')
        .set({ template_json: JSON.stringify(w.workergroup.template) })
        .where('id', '=', w.workergroup.id)
        .execute();
    }
    await trx
      .updateTable('endpoints')
      .set({ params_json: JSON.stringify(w.params), updated_at: w.now })
      .where('id', '=', w.endpointId)
      .execute();
    return true;
  });
}
