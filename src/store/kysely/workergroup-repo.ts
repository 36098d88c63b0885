import type { Kysely } from 'kysely';
import { GantryError } from '../../domain/errors.js';
import { deploymentOwnsGroup } from '../../domain/serverless/rollout.js';
import type { NewWorkergroup, WorkergroupStore, WorkergroupWrite } from '../serverless-store.js';
import { boundedInsert } from './account-bound.js';
import { refuseDeploymentEndpoints } from './deployment-owned.js';
import { Repo } from './repo.js';
import type { Database } from './schema.js';
import { toWorkergroup } from './serverless-rows.js';
import { inTransaction } from './tx.js';
import { accountWorkergroups, endpointWorkergroups } from './workergroup-bounds.js';
import type { WorkergroupRecord } from '../../domain/serverless/records.js';

/** Workergroups: how an endpoint's workers are made, bounded per account and per endpoint. */
export class WorkergroupRepo extends Repo implements WorkergroupStore {
  async createWorkergroup(n: NewWorkergroup): Promise<WorkergroupRecord> {
    const insert = (q: Kysely<Database>): Promise<WorkergroupRecord> =>
      n.refuseOnDeployment === true
        ? inTransaction(q, async (trx) => {
            await refuseDeploymentEndpoints(
              trx,
              this.dialect,
              [n.endpointId],
              (dep) =>
                new GantryError(
                  'DEPLOYMENT_MANAGED',
                  `Endpoint ${dep.endpointId} is deployment ${dep.id}'s: it holds only the workergroups its deployment makes (change the deployment instead).`,
                  { endpointId: dep.endpointId, deploymentId: dep.id },
                ),
            );
            return this.#insertWorkergroup(trx, n);
          })
        : this.#insertWorkergroup(q, n);
    // The endpoint's bound inside the account's: both count with the account's row held (the endpoint's account: the workergroup's).
    return boundedInsert(this.db, this.dialect, accountWorkergroups(n.accountId, n.maxPerAccount ?? 0), (q) =>
      boundedInsert(q, this.dialect, endpointWorkergroups(n.accountId, n.endpointId, n.maxPerEndpoint ?? 0, null), insert),
    );
  }

  async #insertWorkergroup(db: Kysely<Database>, n: NewWorkergroup): Promise<WorkergroupRecord> {
    const row = await db
      .insertInto('workergroups')
      .values({
        account_id: n.accountId,
        endpoint_id: n.endpointId,
        template_json: JSON.stringify(n.template),
        search_params: '',
        placement_json: JSON.stringify(n.placement),
        launch_args: n.launchArgs,
        gpu_ram_gb: n.gpuRamGb,
        test_workers: n.testWorkers,
        revision: n.revision ?? null,
        workers_outdated_before: null,
        created_at: n.now,
        deleted_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toWorkergroup(row);
  }

  async getWorkergroup(id: number): Promise<WorkergroupRecord | undefined> {
    const r = await this.db.selectFrom('workergroups').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    return r && toWorkergroup(r);
  }

  async listWorkergroups(o: { accountId?: number; endpointId?: number }): Promise<WorkergroupRecord[]> {
    let q = this.db.selectFrom('workergroups').selectAll().where('deleted_at', 'is', null).orderBy('id');
    if (o.accountId !== undefined) q = q.where('account_id', '=', o.accountId);
    if (o.endpointId !== undefined) q = q.where('endpoint_id', '=', o.endpointId);
    return (await q.execute()).map(toWorkergroup);
  }

  async legacyWorkergroupSearches(): Promise<{ id: number; searchText: string }[]> {
    const rows = await this.db.selectFrom('workergroups').select(['id', 'search_params']).where('placement_json', 'is', null).execute();
    return rows.map((r) => ({ id: r.id, searchText: r.search_params }));
  }

  async updateWorkergroup(id: number, w: WorkergroupWrite): Promise<void> {
    if (w.endpointId === undefined) return this.#updateWorkergroup(this.db, id, w);
    const to = w.endpointId;
    const move = (q: Kysely<Database>): Promise<void> => inTransaction(q, (trx) => this.#move(trx, id, to, w));
    const max = w.maxPerEndpoint ?? 0;
    const ep = max > 0 ? await this.db.selectFrom('endpoints').select('account_id').where('id', '=', to).executeTakeFirst() : undefined;
    if (ep === undefined) return move(this.db);
    // A move counts as a create at the endpoint it moves to, under the lock of that endpoint's account.
    await boundedInsert(this.db, this.dialect, endpointWorkergroups(ep.account_id, to, max, id), move);
  }

  /** A move to another endpoint: neither the endpoint it leaves nor the one it joins may be a deployment's (deployment-owned.ts). */
  async #move(trx: Kysely<Database>, id: number, to: number, w: WorkergroupWrite): Promise<void> {
    // The group's row first (PostgreSQL), so two moves of it at once each read where the other left it.
    let q = trx.selectFrom('workergroups').select('endpoint_id').where('id', '=', id);
    if (this.dialect.supportsSkipLocked) q = q.forNoKeyUpdate();
    const from = (await q.executeTakeFirst())?.endpoint_id;
    if (from !== undefined && from !== to) {
      await refuseDeploymentEndpoints(trx, this.dialect, [from, to], (dep) =>
        dep.endpointId === from
          ? new GantryError(
              'DEPLOYMENT_MANAGED',
              `Workergroup ${id} is deployment ${dep.id}'s: it stays on the deployment's endpoint ${from} (change or delete the deployment instead).`,
              { workergroupId: id, endpointId: from, deploymentId: dep.id },
            )
          : new GantryError(
              'DEPLOYMENT_MANAGED',
              `Endpoint ${to} is deployment ${dep.id}'s: it holds only the workergroups its deployment makes, so workergroup ${id} is not moved onto it.`,
              { workergroupId: id, endpointId: to, deploymentId: dep.id },
            ),
      );
    }
    await this.#updateWorkergroup(trx, id, w);
  }

  async #updateWorkergroup(db: Kysely<Database>, id: number, w: WorkergroupWrite): Promise<void> {
    await db
      .updateTable('workergroups')
      .set({
        ...(w.template !== undefined ? { template_json: JSON.stringify(w.template) } : {}),
        ...(w.placement !== undefined ? { placement_json: JSON.stringify(w.placement) } : {}),
        ...(w.launchArgs !== undefined ? { launch_args: w.launchArgs } : {}),
        ...(w.gpuRamGb !== undefined ? { gpu_ram_gb: w.gpuRamGb } : {}),
        ...(w.testWorkers !== undefined ? { test_workers: w.testWorkers } : {}),
        ...(w.endpointId !== undefined ? { endpoint_id: w.endpointId } : {}),
        ...(w.workersOutdatedBefore !== undefined ? { workers_outdated_before: w.workersOutdatedBefore } : {}),
      })
      .where('id', '=', id)
      .execute();
  }

  async deleteWorkergroup(id: number, now: number, o?: { readonly refuseOnDeployment?: boolean }): Promise<void> {
    const del = (q: Kysely<Database>): Promise<unknown> =>
      q.updateTable('workergroups').set({ deleted_at: now }).where('id', '=', id).where('deleted_at', 'is', null).execute();
    if (o?.refuseOnDeployment !== true) return void (await del(this.db));
    await inTransaction(this.db, async (trx) => {
      const g = await trx.selectFrom('workergroups').select('endpoint_id').where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
      if (g === undefined) return;
      await refuseDeploymentEndpoints(trx, this.dialect, [g.endpoint_id], (dep) => deploymentOwnsGroup(id, dep.endpointId, dep.id));
      await del(trx);
    });
  }
}
