import type { CodeDeploymentStore } from '../code-deployment-store.js';
import type { GatewayPendingStore } from './gateway-pending-repo.js';
import { sql, type Kysely } from 'kysely';
import type { Database } from './schema.js';
import { GantryError } from '../../domain/errors.js';
import { EMPTY_MEMORY } from '../../domain/serverless/autoscale.js';
import type {
  EndpointConfigWrite,
  EndpointReconfigure,
  EndpointRename,
  EndpointIntentWrite,
  EndpointPassWrite,
  NewEndpoint,
  DeploymentStore,
  ServerlessStore,
  WorkergroupStore,
} from '../serverless-store.js';
import { portsOf } from './allocations.js';
import { toInstance } from './rows.js';
import { toEndpoint } from './serverless-rows.js';
import { claimLeased } from './lease.js';
import { reconfigureEndpoint } from './endpoint-reconfigure.js';
import { renameEndpoint } from './endpoint-rename.js';
import { checkAliasTarget } from './endpoint-alias.js';
import { inTransaction } from './tx.js';
import { Repo } from './repo.js';
import { boundedInsert, countRows, type AccountBound } from './account-bound.js';
import type { EndpointRecord, WorkerReport } from '../../domain/serverless/records.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';

const b = (v: boolean): number => (v ? 1 : 0);

/**
 * Serverless queries (endpoints, workers and their reports, settings), one repository of the store;
 * KyselyStore exposes its methods. Workergroups and deployments have repositories of their own.
 */
export class ServerlessRepo
  extends Repo
  implements Omit<ServerlessStore, keyof DeploymentStore | keyof CodeDeploymentStore | keyof GatewayPendingStore | keyof WorkergroupStore>
{
  async createEndpoint(n: NewEndpoint): Promise<EndpointRecord> {
    const bound: AccountBound = {
      accountId: n.accountId,
      max: n.maxPerAccount ?? 0,
      // One being deleted counts until it is gone: its workers are still there, being destroyed.
      count: (q) => countRows(q.selectFrom('endpoints').where('account_id', '=', n.accountId).where('status', '!=', 'deleted')),
      refuse: (max) =>
        new GantryError(
          'ENDPOINT_LIMIT',
          `An account holds at most ${max} endpoints and deployments (one being deleted counts until it is gone); delete one first.`,
          { limit: max },
        ),
    };
    const { aliasOf } = n;
    // An alias is written in the transaction that holds its target (endpoint-alias.ts).
    const insert = (q: Kysely<Database>): Promise<EndpointRecord> =>
      aliasOf === null
        ? this.#insertEndpoint(q, n)
        : inTransaction(q, async (trx) => {
            await checkAliasTarget(trx, this.dialect, { accountId: n.accountId, name: n.name, aliasOf });
            return this.#insertEndpoint(trx, n);
          });
    try {
      return await boundedInsert(this.db, this.dialect, bound, insert);
    } catch (err) {
      if (this.dialect.isUniqueViolation(err)) throw new GantryError('NAME_TAKEN', `You already have an endpoint named '${n.name}'.`, { name: n.name });
      throw err;
    }
  }

  async #insertEndpoint(db: Kysely<Database>, n: NewEndpoint): Promise<EndpointRecord> {
    const row = await db
      .insertInto('endpoints')
      .values({
        account_id: n.accountId,
        name: n.name,
        live_name: n.name,
        api_key: n.apiKey,
        params_json: JSON.stringify(n.params),
        ...(n.limits !== undefined ? { limits_json: JSON.stringify(n.limits) } : {}),
        suspended: 0,
        alias_of: n.aliasOf,
        target: 'running',
        // Nothing observed yet: the serverless loop's first pass makes it pending (or running).
        status: 'unknown',
        status_msg: null,
        generation: 1,
        stop_drain: 0,
        stop_deadline: null,
        stop_requested_at: null,
        memory_json: JSON.stringify(EMPTY_MEMORY),
        last_activity_at: n.now,
        created_at: n.now,
        updated_at: n.now,
        last_processed_at: 0,
        lease_owner: null,
        lease_token: null,
        lease_expires_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toEndpoint(row);
  }

  async getEndpoint(id: number): Promise<EndpointRecord | undefined> {
    const r = await this.db.selectFrom('endpoints').selectAll().where('id', '=', id).executeTakeFirst();
    return r && toEndpoint(r);
  }

  async findEndpointByName(accountId: number, name: string): Promise<EndpointRecord | undefined> {
    const r = await this.db.selectFrom('endpoints').selectAll().where('account_id', '=', accountId).where('live_name', '=', name).executeTakeFirst();
    return r && toEndpoint(r);
  }

  async findEndpointByKey(apiKey: string): Promise<EndpointRecord | undefined> {
    const r = await this.db.selectFrom('endpoints').selectAll().where('api_key', '=', apiKey).where('status', '!=', 'deleted').executeTakeFirst();
    return r && toEndpoint(r);
  }

  async listEndpoints(accountId: number | null): Promise<EndpointRecord[]> {
    let q = this.db.selectFrom('endpoints').selectAll().where('status', '!=', 'deleted').orderBy('id');
    if (accountId !== null) q = q.where('account_id', '=', accountId);
    return (await q.execute()).map(toEndpoint);
  }

  async updateEndpointConfig(id: number, w: EndpointConfigWrite): Promise<void> {
    await this.db
      .updateTable('endpoints')
      .set({
        ...(w.params !== undefined ? { params_json: JSON.stringify(w.params) } : {}),
        ...(w.suspended !== undefined ? { suspended: b(w.suspended) } : {}),
        updated_at: w.now,
      })
      .where('id', '=', id)
      .execute();
  }

  async renameEndpoint(w: EndpointRename): Promise<boolean> {
    return renameEndpoint(this.db, this.dialect, w);
  }

  async reconfigureEndpoint(w: EndpointReconfigure): Promise<boolean> {
    return reconfigureEndpoint(this.db, this.dialect, w);
  }

  async writeEndpointIntent(id: number, expectedGeneration: number, w: EndpointIntentWrite): Promise<boolean> {
    let q = this.db
      .updateTable('endpoints')
      .set({
        target: w.target,
        status: w.status,
        status_msg: w.statusMsg,
        generation: expectedGeneration + 1,
        stop_drain: b(w.stop?.drain ?? false),
        stop_reject_queued: b(w.stop?.rejectQueued ?? false),
        stop_rejects: b(w.stop?.rejects ?? false),
        stop_deadline: w.stop?.deadline ?? null,
        stop_requested_at: w.stop !== null ? w.now : null,
        stop_phase: w.stopPhase ?? null,
        stop_workers_deadline: null,
        // Every intent counts from zero but the delete of an endpoint its stop left stopped, which keeps what that stop
        // counted for the calls that waited on it and read it after the delete (Elasticsearch's stop deletes once
        // stopped). A delete that cuts a stop short, or follows a failed one, is no clean end of that stop.
        ...(w.target === 'deleted' && w.from === 'stopped' ? {} : { stop_drain_timed_out: 0, stop_answered: 0, stop_failed: 0, stop_rejected: 0 }),
        rest_until: null,
        // A start is activity: an endpoint scaled to zero and started again gets its inactivity window anew.
        ...(w.target === 'running' ? { last_activity_at: w.now, memory_json: JSON.stringify(EMPTY_MEMORY) } : {}),
        ...(w.status === 'deleted' ? { live_name: null } : {}),
        updated_at: w.now,
      })
      .where('id', '=', id)
      .where('generation', '=', expectedGeneration);
    if (w.from !== undefined) q = q.where('status', '=', w.from);
    const r = await q.executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async shortenStopDrain(id: number, generation: number, deadline: number, now: number): Promise<boolean> {
    const r = await this.db
      .updateTable('endpoints')
      // rest_until 0: a pass that claimed the endpoint before this write does not rest it past the new deadline.
      .set({ stop_deadline: deadline, rest_until: 0, updated_at: now })
      .where('id', '=', id)
      .where('generation', '=', generation)
      .where('status', '=', 'stopping')
      .where('stop_drain', '=', 1)
      .where((eb) => eb.or([eb('stop_phase', 'is', null), eb('stop_phase', '!=', 'stopping_workers')]))
      .where('stop_deadline', '>', deadline)
      .executeTakeFirst();
    return Number(r.numUpdatedRows) === 1;
  }

  async claimEndpoints(o: { owner: string; now: number; leaseMs: number; limit: number }): Promise<EndpointRecord[]> {
    const { token, ids } = await claimLeased(
      this.db,
      this.dialect,
      'endpoints',
      (trx) =>
        trx
          .selectFrom('endpoints')
          .select('id')
          .where('status', '!=', 'deleted')
          .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', o.now)]))
          .where((eb) => eb.or([eb('rest_until', 'is', null), eb('rest_until', '<=', o.now)]))
          .orderBy('last_processed_at')
          .orderBy('id')
          .limit(o.limit),
      o,
    );
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('endpoints').selectAll().where('id', 'in', ids).where('lease_token', '=', token).orderBy('id').execute();
    return rows.map(toEndpoint);
  }

  async applyEndpointPass(id: number, leaseToken: string, w: EndpointPassWrite): Promise<'applied' | 'superseded' | 'lost'> {
    const release = { last_processed_at: w.now, lease_owner: null, lease_token: null, lease_expires_at: null };
    // The phase lives only while status is stopping.
    const phase = w.stop !== undefined ? w.stop.phase : w.status !== undefined && w.status !== 'stopping' ? null : undefined;
    const r = await this.db
      .updateTable('endpoints')
      .set({
        ...(w.status !== undefined ? { status: w.status } : {}),
        ...(w.status === 'deleted' ? { live_name: null } : {}),
        ...(w.statusMsg !== undefined ? { status_msg: w.statusMsg } : {}),
        ...(w.startedAt !== undefined ? { started_at: w.startedAt } : {}),
        ...(w.completedAt !== undefined ? { completed_at: w.completedAt } : {}),
        ...(phase !== undefined ? { stop_phase: phase } : {}),
        ...(w.stop !== undefined ? { stop_workers_deadline: w.stop.workersDeadline, stop_drain_timed_out: b(w.stop.drainTimedOut) } : {}),
        // Added, not written: gateways add their refusals to the same count concurrently.
        ...(w.stop !== undefined && w.stop.failed > 0 ? { stop_failed: sql<number>`stop_failed + ${w.stop.failed}` } : {}),
        ...(w.stop !== undefined && w.stop.rejected > 0 ? { stop_rejected: sql<number>`stop_rejected + ${w.stop.rejected}` } : {}),
        memory_json: JSON.stringify(w.memory),
        // 0 is a wake-up written since the claim: this pass may have read the endpoint before it.
        rest_until: w.restUntil === undefined ? null : sql<number | null>`CASE WHEN rest_until = 0 THEN NULL ELSE CAST(${w.restUntil} AS BIGINT) END`,
        ...release,
      })
      .where('id', '=', id)
      .where('lease_token', '=', leaseToken)
      .where('generation', '=', w.generation)
      .executeTakeFirst();
    if (Number(r.numUpdatedRows) === 1) return 'applied';
    const freed = await this.db.updateTable('endpoints').set(release).where('id', '=', id).where('lease_token', '=', leaseToken).executeTakeFirst();
    return Number(freed.numUpdatedRows) === 1 ? 'superseded' : 'lost';
  }

  async countStopRequests(id: number, answered: number, failed: number, rejected = 0): Promise<void> {
    await this.db
      .updateTable('endpoints')
      .set({
        stop_answered: sql<number>`stop_answered + ${answered}`,
        stop_failed: sql<number>`stop_failed + ${failed}`,
        stop_rejected: sql<number>`stop_rejected + ${rejected}`,
      })
      .where('id', '=', id)
      .where('target', '=', 'stopped')
      .execute();
  }

  async touchEndpoint(id: number, at: number): Promise<void> {
    await this.db.updateTable('endpoints').set({ last_activity_at: at }).where('id', '=', id).where('last_activity_at', '<', at).execute();
  }

  async wakeEndpoint(id: number): Promise<void> {
    await this.db.updateTable('endpoints').set({ rest_until: 0 }).where('id', '=', id).where('status', '!=', 'deleted').execute();
  }

  async wakeResting(ids: readonly number[]): Promise<number> {
    if (ids.length === 0) return 0;
    const r = await this.db.updateTable('endpoints').set({ rest_until: 0 }).where('id', 'in', ids).where('rest_until', '>', 0).executeTakeFirst();
    return Number(r.numUpdatedRows);
  }

  async listWorkers(endpointId: number): Promise<InstanceRecord[]> {
    const rows = await this.db
      .selectFrom('instances')
      .selectAll()
      .where('endpoint_id', '=', endpointId)
      .where('status', '!=', 'destroyed')
      .orderBy('id')
      .execute();
    const ports = await portsOf(
      this.db,
      rows.map((r) => r.id),
    );
    return rows.map((r) => toInstance(r, ports.get(r.id) ?? []));
  }

  async recordWorkerReport(r: WorkerReport): Promise<void> {
    const row = {
      instance_id: r.instanceId,
      cur_load: r.curLoad,
      max_perf: r.maxPerf,
      cur_perf: r.curPerf,
      num_requests_working: r.numRequestsWorking,
      loaded: b(r.loaded),
      error_msg: r.errorMsg,
      reported_at: r.reportedAt,
      keyed: b(r.keyed),
    };
    await this.db
      .insertInto('worker_reports')
      .values(row)
      .onConflict((oc) =>
        oc.column('instance_id').doUpdateSet({
          cur_load: row.cur_load,
          max_perf: row.max_perf,
          cur_perf: row.cur_perf,
          num_requests_working: row.num_requests_working,
          loaded: row.loaded,
          error_msg: row.error_msg,
          reported_at: row.reported_at,
          keyed: row.keyed,
        }),
      )
      .execute();
  }

  async pruneWorkerReports(): Promise<number> {
    const r = await this.db
      .deleteFrom('worker_reports')
      .where((eb) =>
        eb.exists(
          eb
            .selectFrom('instances')
            .select('instances.id')
            .whereRef('instances.id', '=', 'worker_reports.instance_id')
            .where('instances.status', '=', 'destroyed'),
        ),
      )
      .executeTakeFirst();
    return Number(r.numDeletedRows);
  }

  async workerReports(instanceIds: readonly number[]): Promise<Map<number, WorkerReport>> {
    if (instanceIds.length === 0) return new Map();
    const rows = await this.db.selectFrom('worker_reports').selectAll().where('instance_id', 'in', instanceIds).execute();
    return new Map(
      rows.map((r) => [
        r.instance_id,
        {
          instanceId: r.instance_id,
          curLoad: r.cur_load,
          maxPerf: r.max_perf,
          curPerf: r.cur_perf,
          numRequestsWorking: r.num_requests_working,
          loaded: r.loaded === 1,
          errorMsg: r.error_msg,
          reportedAt: Number(r.reported_at),
          keyed: r.keyed === 1,
        },
      ]),
    );
  }

  async getOrPutSetting(key: string, value: string): Promise<string> {
    await this.db
      .insertInto('settings')
      .values({ key, value })
      .onConflict((oc) => oc.column('key').doNothing())
      .execute();
    const r = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirstOrThrow();
    return r.value;
  }

  async getSetting(key: string): Promise<string | null> {
    const r = await this.db.selectFrom('settings').select('value').where('key', '=', key).executeTakeFirst();
    return r?.value ?? null;
  }
}
