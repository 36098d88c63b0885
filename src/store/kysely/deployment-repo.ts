import { randomBytes } from 'node:crypto';
import type { Transaction } from 'kysely';
import type { DeploymentStore, DeploymentWrite, NewDeployment } from '../serverless-store.js';
import { toDeployment } from './serverless-rows.js';
import { holdServedModel } from './ml-repo.js';
import { checkDeploymentGroups } from './deployment-owned.js';
import { Repo } from './repo.js';
import type { Database } from './schema.js';
import { transact } from './tx.js';
import type { DeploymentRecord } from '../../domain/serverless/records.js';

async function insertDeployment(trx: Transaction<Database>, n: NewDeployment): Promise<DeploymentRecord> {
  const row = await trx
    .insertInto('deployments')
    .values({
      account_id: n.accountId,
      name: n.name,
      tag: n.tag,
      endpoint_id: n.endpointId,
      workergroup_id: n.workergroupId,
      uid: n.uid ?? randomBytes(8).toString('hex'),
      resource_group: n.resourceGroup ?? 'default',
      source_json: n.source === undefined || n.source === null ? null : JSON.stringify(n.source),
      running_source_id: n.runningSourceId ?? null,
      rollout_error: null,
      ttl: n.ttl ?? null,
      expires_at: n.expiresAt ?? null,
      last_operation: 'create',
      created_at: n.now,
      updated_at: n.now,
      deleted_at: null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toDeployment(row);
}

/** Deployments: an endpoint and its workergroups made together, with a public id, a resource group and their source. */
export class DeploymentRepo extends Repo implements DeploymentStore {
  async createDeployment(n: NewDeployment): Promise<DeploymentRecord> {
    return transact(this.db, async (trx) => {
      if (n.servesModel !== undefined) await holdServedModel(trx, n.accountId, n.servesModel);
      await checkDeploymentGroups(trx, this.dialect, n);
      return insertDeployment(trx, n);
    });
  }

  async getDeployment(id: number): Promise<DeploymentRecord | undefined> {
    const r = await this.db.selectFrom('deployments').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    return r && toDeployment(r);
  }

  async findDeploymentByEndpoint(endpointId: number, o: { withDeleted?: boolean } = {}): Promise<DeploymentRecord | undefined> {
    let q = this.db.selectFrom('deployments').selectAll().where('endpoint_id', '=', endpointId);
    q = o.withDeleted === true ? q.orderBy('id', 'desc') : q.where('deleted_at', 'is', null);
    const r = await q.executeTakeFirst();
    return r && toDeployment(r);
  }

  async findDeploymentByUid(uid: string): Promise<DeploymentRecord | undefined> {
    const r = await this.db.selectFrom('deployments').selectAll().where('uid', '=', uid).where('deleted_at', 'is', null).executeTakeFirst();
    return r && toDeployment(r);
  }

  async listDeployments(accountId: number | null, o: { resourceGroup?: string } = {}): Promise<DeploymentRecord[]> {
    let q = this.db.selectFrom('deployments').selectAll().where('deleted_at', 'is', null).orderBy('id');
    if (accountId !== null) q = q.where('account_id', '=', accountId);
    if (o.resourceGroup !== undefined) q = q.where('resource_group', '=', o.resourceGroup);
    return (await q.execute()).map(toDeployment);
  }

  async updateDeployment(id: number, w: DeploymentWrite): Promise<void> {
    await this.db
      .updateTable('deployments')
      .set({
        ...(w.source !== undefined ? { source_json: w.source === null ? null : JSON.stringify(w.source) } : {}),
        ...(w.runningSourceId !== undefined ? { running_source_id: w.runningSourceId } : {}),
        ...(w.rolloutError !== undefined ? { rollout_error: w.rolloutError } : {}),
        ...(w.lastOperation !== undefined ? { last_operation: w.lastOperation } : {}),
        ...(w.ttl !== undefined ? { ttl: w.ttl } : {}),
        ...(w.expiresAt !== undefined ? { expires_at: w.expiresAt } : {}),
        updated_at: w.now,
      })
      .where('id', '=', id)
      .execute();
  }

  async deleteDeployment(id: number, now: number): Promise<void> {
    await this.db.updateTable('deployments').set({ deleted_at: now, updated_at: now }).where('id', '=', id).execute();
  }
}
