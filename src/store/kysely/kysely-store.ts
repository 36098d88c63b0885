import { Kysely, sql, type SelectQueryBuilder, type SqlBool } from 'kysely';
import { UNSETTLED_STATUSES } from '../../domain/instance/sweep.js';
import { transact } from './tx.js';
import { GantryError } from '../../domain/errors.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { ClaimOptions, InstanceListOptions, IntentWrite, ListingWrite, NewInstance, ObservationWrite, Store } from '../store.js';
import * as fleet from './fleet.js';
import * as bids from './bids.js';
import { deleteMachine } from './machine-delete.js';
import { linkVolumes } from './volume-repo.js';
import { exposeRepositories, type RepositoryParts } from './repositories.js';
import { allocatePorts, attachAccountSshKeys, insertGpus, portsOf } from './allocations.js';
import { claimLeased } from './lease.js';
import { LeaseReleases } from './lease-release.js';
import { holdCpu, homeGpus, notEnoughGpus, rebalanceMachine } from './placement.js';
import { firstFree, WAITING_MESSAGE, waitingForReleaseMessage } from '../../domain/instance/bids.js';
import { migrateToLatest } from './migrations.js';
import { applyObservation } from './observation.js';
import { applyObservations } from './observation-batch.js';
import { WriteWatch } from './write-watch.js';
import { newInstanceRow, ONLINE_WINDOW_MS, toInstance, toMachine } from './rows.js';
import type { Database } from './schema.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';
import type { HostTokenRecord, MachineRecord, MachineRegistration, UsageReport } from '../../domain/machine/machine.js';
import type { ChangeFeed } from '../change-feed.js';

const b = (v: boolean): number => (v ? 1 : 0);
/** The unsettled statuses as literals, as the partial index spells them (a bound parameter would not match it). */
const UNSETTLED = sql<SqlBool>`status IN (${sql.raw(UNSETTLED_STATUSES.map((st) => `'${st}'`).join(', '))})`;

// Declaration merging: the class below gains the repositories' methods, which its constructor binds
// (repositories.ts checks they exist, the store contract suite that they behave).
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging, @typescript-eslint/no-empty-object-type
export interface KyselyStore extends RepositoryParts {}

/**
 * The one store implementation; SQLite and PostgreSQL differ only through `StoreDialect`. Machines
 * and instances are queried here; tenancy, billing and serverless queries are repositories of their
 * own, composed into this one object so callers see a single port.
 */
// eslint-disable-next-line @typescript-eslint/no-unsafe-declaration-merging
export class KyselyStore implements Store {
  readonly name: 'sqlite' | 'postgres';
  readonly changes: ChangeFeed;
  protected readonly db: Kysely<Database>;
  protected readonly dialect: StoreDialect;
  readonly machineOnlineWindowMs: number;
  readonly #releases: LeaseReleases;
  readonly #watch = new WriteWatch();

  constructor(d: StoreDialect, opts: { machineOnlineWindowMs?: number; onFeedError?: (err: unknown) => void } = {}) {
    this.dialect = d;
    this.name = d.name;
    this.changes = d.createChangeFeed(opts.onFeedError ?? (() => undefined));
    this.db = new Kysely<Database>({ dialect: d.createKyselyDialect(), plugins: [this.#watch] });
    this.machineOnlineWindowMs = opts.machineOnlineWindowMs ?? ONLINE_WINDOW_MS;
    this.#releases = new LeaseReleases(this.db);
    exposeRepositories(this, this.db, d, this.changes, this.machineOnlineWindowMs);
  }

  onShownInstancesWrite(f: () => void): () => void {
    return this.#watch.listen(f);
  }

  async migrate(): Promise<void> {
    await migrateToLatest(this.db, this.dialect);
  }

  async close(): Promise<void> {
    await this.changes.close();
    await this.db.destroy();
  }

  // ── machines ────────────────────────────────────────────────────────
  async registerMachine(m: MachineRegistration, now: number, o: { readonly bindToken?: number } = {}): Promise<MachineRecord> {
    const machine = toMachine(await fleet.registerMachine(this.db, this.dialect, m, now, o), now, this.machineOnlineWindowMs);
    this.changes.publish('machine', machine.id);
    return machine;
  }

  async getMachine(id: number, now: number, o: { includeDeleted?: boolean } = {}): Promise<MachineRecord | undefined> {
    const row = await this.db.selectFrom('machines').selectAll().where('id', '=', id).executeTakeFirst();
    return row && (row.deleted_at === null || o.includeDeleted === true) ? toMachine(row, now, this.machineOnlineWindowMs) : undefined;
  }
  async listMachines(now: number): Promise<MachineRecord[]> {
    const rows = await this.db.selectFrom('machines').selectAll().where('deleted_at', 'is', null).orderBy('id').execute();
    return rows.map((r) => toMachine(r, now, this.machineOnlineWindowMs));
  }
  async findMachineByHostKey(hostKey: string, now: number): Promise<MachineRecord | undefined> {
    const row = await this.db.selectFrom('machines').selectAll().where('host_key', '=', hostKey).where('deleted_at', 'is', null).executeTakeFirst();
    return row && toMachine(row, now, this.machineOnlineWindowMs);
  }
  deleteMachine(id: number, now: number, note: string): ReturnType<typeof deleteMachine> {
    return deleteMachine(this.db, id, now, note);
  }

  async setMachineVerified(id: number, verified: boolean): Promise<void> {
    const r = await this.db
      .updateTable('machines')
      .set({ verified: b(verified) })
      .where('id', '=', id)
      .executeTakeFirst();
    if (r.numUpdatedRows === 0n) throw new GantryError('MACHINE_NOT_FOUND', `No machine with id ${id}.`, { machineId: id });
    this.changes.publish('machine', id);
  }

  async touchMachine(id: number, now: number): Promise<void> {
    await this.db.updateTable('machines').set({ last_seen_at: now }).where('id', '=', id).execute();
  }

  async touchMachines(ids: readonly number[], now: number): Promise<void> {
    if (ids.length > 0)
      await this.db.updateTable('machines').set({ last_seen_at: now }).where(this.dialect.intIn('id', ids)).where('last_seen_at', '<', now).execute();
  }

  async recordHeartbeat(machineId: number, h: Parameters<Store['recordHeartbeat']>[1]): Promise<void> {
    // Only a host coming back changes its offers at once; a steady heartbeat is read by the index's sweep.
    if (await fleet.recordHeartbeat(this.db, machineId, h, this.machineOnlineWindowMs)) this.changes.publish('machine', machineId);
  }
  usageOf(ids: readonly number[]): Promise<Map<number, UsageReport & { updatedAt: number }>> {
    return fleet.usageOf(this.db, ids);
  }
  async setListing(machineId: number, l: ListingWrite & { listed: boolean }): Promise<void> {
    await fleet.setListing(this.db, machineId, l);
    this.changes.publish('machine', machineId);
  }
  async setMaintenance(machineId: number, w: { start: number; end: number; reason: string | null } | null): Promise<void> {
    await fleet.setMaintenance(this.db, machineId, w);
    this.changes.publish('machine', machineId);
  }
  markInstancesOfSilentMachines(silentSince: number, msg: string, now: number): Promise<number[]> {
    return fleet.markInstancesOfSilentMachines(this.db, silentSince, msg, now);
  }
  createHostToken(t: { accountId: number; tokenHash: string; name: string; now: number; maxLive?: number }): Promise<HostTokenRecord> {
    return fleet.createHostToken(this.db, this.dialect, t);
  }
  findHostTokenByHash(tokenHash: string): Promise<HostTokenRecord | undefined> {
    return fleet.findHostTokenByHash(this.db, tokenHash);
  }
  bindHostToken(id: number, machineId: number): Promise<boolean> {
    return fleet.bindHostToken(this.db, id, machineId);
  }

  async changeBid(id: number, price: number, now: number): Promise<InstanceRecord> {
    await bids.changeBid(this.db, this.dialect, id, price, now);
    this.changes.publish('instance-status', id); // placement ran again: GPUs may have changed hands
    return (await this.getInstance(id)) as InstanceRecord;
  }
  prepayInstance(id: number, amount: number, discount: number, now: number): Promise<InstanceRecord> {
    return bids.prepayInstance(this.db, id, amount, discount, now).then(async () => (await this.getInstance(id)) as InstanceRecord);
  }

  // ── instances ───────────────────────────────────────────────────────
  async createInstance(n: NewInstance): Promise<InstanceRecord> {
    const id = await transact(this.db, async (trx) => {
      // The machine row is locked first: placement locks it too, and taking it after the instance insert (whose
      // foreign key holds a share lock on it) would deadlock two concurrent creates on PostgreSQL.
      let mq = trx.selectFrom('machines').selectAll().where('id', '=', n.machineId).where('deleted_at', 'is', null);
      if (this.dialect.supportsSkipLocked) mq = mq.forUpdate();
      const machine = await mq.executeTakeFirst();
      if (!machine) throw new GantryError('OFFER_NOT_FOUND', `Machine ${n.machineId} does not exist.`, { machineId: n.machineId });
      const allocs = await trx.selectFrom('gpu_allocations').select('gpu_index').where('machine_id', '=', n.machineId).execute();
      const taken = new Set(allocs.map((r) => r.gpu_index));
      const free = Array.from({ length: machine.num_gpus }, (_, i) => i).filter((i) => !taken.has(i));
      if (n.target !== 'running' && free.length < n.numGpus) throw notEnoughGpus(free.length, n);
      const stoppedGpus = n.target === 'running' ? [] : firstFree(free, await homeGpus(trx, n.machineId), n.numGpus);
      const row = await trx
        .insertInto('instances')
        // A rental that should run waits for placement below: free GPUs, or a lower bid's once it has stopped.
        .values({ ...newInstanceRow(n, stoppedGpus), ...(n.target === 'running' ? { gpu_wait_since: n.now } : {}) })
        .returning('id')
        .executeTakeFirstOrThrow();
      if (n.target === 'running') {
        const plan = await rebalanceMachine(this.dialect, trx, n.machineId, n.now, row.id);
        if (plan.outbid.has(row.id)) throw notEnoughGpus(free.length, n);
        const waitsFor = plan.pending.get(row.id);
        if (waitsFor !== undefined)
          await trx
            .updateTable('instances')
            .set({ status_msg: waitingForReleaseMessage(waitsFor) })
            .where('id', '=', row.id)
            .execute();
        else await holdCpu(trx, row.id, n.machineId, 'OFFER_UNAVAILABLE');
      }
      await allocatePorts(this.dialect, trx, machine, row.id, n);
      if (n.attachAccountSshKeys === true) await attachAccountSshKeys(trx, row.id, n.accountId);
      await trx
        .insertInto('api_keys')
        .values({
          account_id: n.accountId,
          key_hash: n.instanceKeyHash(row.id),
          name: `instance ${row.id}`,
          scope: 'instance',
          instance_id: row.id,
          created_at: n.now,
          revoked_at: null,
        })
        .execute();
      await linkVolumes(trx, row.id, n.volumes ?? []);
      return row.id;
    });
    this.changes.publish('instance-status', id); // GPUs and vCPUs taken (or waited for)
    return (await this.getInstance(id)) as InstanceRecord;
  }

  async getInstance(id: number): Promise<InstanceRecord | undefined> {
    const row = await this.db.selectFrom('instances').selectAll().where('id', '=', id).executeTakeFirst();
    if (!row) return undefined;
    return toInstance(row, (await portsOf(this.db, [id])).get(id) ?? []);
  }

  async listInstances(o: InstanceListOptions): Promise<InstanceRecord[]> {
    let q = this.db.selectFrom('instances').selectAll().orderBy('id');
    if (o.accountId !== null) q = q.where('account_id', '=', o.accountId);
    if (o.includeDestroyed !== true) q = q.where('status', '!=', 'destroyed');
    const rows = await q.execute();
    const ports = await portsOf(
      this.db,
      rows.map((r) => r.id),
    );
    return rows.map((r) => toInstance(r, ports.get(r.id) ?? []));
  }

  async writeIntent(id: number, expectedGeneration: number, w: IntentWrite): Promise<boolean> {
    let placed = false;
    const written = await transact(this.db, async (trx) => {
      placed = false; // a body run again (see transact) starts afresh
      // Locked (PostgreSQL): a second start waits, then finds the generation moved, not its own GPU rows taken.
      let rq = trx.selectFrom('instances').select(['machine_id', 'gpu_indices', 'offer_type', 'gpu_wait_since']).where('id', '=', id);
      rq = rq.where('generation', '=', expectedGeneration);
      if (this.dialect.supportsSkipLocked) rq = rq.forNoKeyUpdate();
      const row = await rq.executeTakeFirst();
      if (!row) return false;
      // A bid asks for any GPUs of its machine again and may have to wait (or outbid someone) for them.
      const bid = w.acquireGpus && row.offer_type === 'bid';
      if (w.acquireGpus && !bid) {
        placed = true;
        await insertGpus(this.dialect, trx, row.machine_id, id, JSON.parse(row.gpu_indices) as number[], 'GPUS_UNAVAILABLE');
        await holdCpu(trx, id, row.machine_id, 'GPUS_UNAVAILABLE');
      }
      const r = await trx
        .updateTable('instances')
        .set((eb) => ({
          target: w.target,
          pending_op: w.pendingOp,
          generation: eb('generation', '+', 1),
          stop_requested_at: w.target === 'running' ? null : w.now,
          ...(w.statusMsg !== undefined ? { status_msg: w.statusMsg } : {}),
          // Only an instance that should run waits for GPUs.
          ...(bid ? { gpu_wait_since: w.now } : w.target !== 'running' ? { gpu_wait_since: null } : {}),
        }))
        .where('id', '=', id)
        .where('generation', '=', expectedGeneration)
        .executeTakeFirst();
      if (r.numUpdatedRows === 0n) return false;
      if (bid || (row.gpu_wait_since !== null && w.target !== 'running')) {
        placed = true;
        const plan = await rebalanceMachine(this.dialect, trx, row.machine_id, w.now);
        const waitsFor = plan.pending.get(id);
        const msg = waitsFor !== undefined ? waitingForReleaseMessage(waitsFor) : plan.outbid.has(id) ? WAITING_MESSAGE : null;
        if (msg !== null) await trx.updateTable('instances').set({ status_msg: msg }).where('id', '=', id).execute();
      }
      return true;
    });
    if (written && placed) this.changes.publish('instance-status', id); // GPUs taken, or placement ran again
    return written;
  }

  async setLabel(id: number, label: string | null): Promise<void> {
    await this.db.updateTable('instances').set({ label }).where('id', '=', id).execute();
  }

  async setStatusMsg(id: number, msg: string | null, onlyOver?: string): Promise<boolean> {
    const q = this.db.updateTable('instances').set({ status_msg: msg }).where('id', '=', id);
    return Number((await (onlyOver === undefined ? q : q.where('status_msg', '=', onlyOver)).executeTakeFirst()).numUpdatedRows) > 0;
  }

  async runningWithStatusMsg(like: string): Promise<{ readonly id: number; readonly statusMsg: string }[]> {
    const rows = await this.db.selectFrom('instances').select(['id', 'status_msg']).where('status', '=', 'running').where('status_msg', 'like', like).execute();
    return rows.map((r) => ({ id: r.id, statusMsg: r.status_msg ?? '' }));
  }

  async claimInstances(o: ClaimOptions): Promise<InstanceRecord[]> {
    const { token, ids } = await claimLeased(
      this.db,
      this.dialect,
      'instances',
      (trx) => {
        const free = (ordered = true): SelectQueryBuilder<Database, 'instances', { id: number }> => {
          let q = trx
            .selectFrom('instances')
            .select('id')
            .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', o.now)]));
          if (ordered) q = q.orderBy('last_processed_at').orderBy('id');
          return o.machineIds !== undefined ? q.where(this.dialect.intIn('machine_id', o.machineIds)) : q;
        };
        // Hinted rows first, then requests not carried out, then rows in the middle of something not looked at
        // lately; rows at rest are the host sweep's (decision 017). The last two repeat the partial indexes'
        // predicates (migration 0024) word for word.
        // Hinted rows in no particular order (it only decides which wait when there are more than `limit`): the
        // rows are then fetched by id, not found by walking the oldest-first order.
        const hinted =
          o.dueIds !== undefined && o.dueIds.length > 0 ? [free(false).where('status', '!=', 'destroyed').where(this.dialect.intIn('id', o.dueIds))] : [];
        if (o.onlyDue === true) return hinted;
        return [
          ...hinted,
          free().where(sql<SqlBool>`generation > observed_generation AND status <> 'destroyed'`),
          free().where(UNSETTLED).where('last_processed_at', '<=', o.observeBefore),
        ];
      },
      o,
    );
    if (ids.length === 0) return [];
    const rows = await this.db
      .selectFrom('instances')
      .selectAll()
      .where('id', 'in', ids)
      .where('lease_token', '=', token)
      .orderBy('last_processed_at')
      .execute();
    const ports = await portsOf(this.db, ids);
    return rows.map((r) => toInstance(r, ports.get(r.id) ?? []));
  }

  async extendLeases(owner: string, ids: readonly number[], until: number): Promise<void> {
    if (ids.length === 0) return;
    await this.db.updateTable('instances').set({ lease_expires_at: until }).where('id', 'in', ids).where('lease_owner', '=', owner).execute();
  }

  async applyObservation(id: number, leaseToken: string, o: ObservationWrite): Promise<boolean> {
    const r = await applyObservation(this.db, this.dialect, id, leaseToken, o);
    if (r === 'released') this.changes.publish('instance-status', id); // GPUs or vCPUs given back
    return r !== 'stale';
  }

  async applyObservations(leaseToken: string, rows: readonly { id: number; write: ObservationWrite }[]): Promise<boolean[]> {
    const r = await applyObservations(this.db, this.dialect, leaseToken, rows);
    rows.forEach((row, i) => r[i] === 'released' && this.changes.publish('instance-status', row.id));
    return r.map((a) => a !== 'stale');
  }

  releaseLease(id: number, leaseToken: string, now: number): Promise<void> {
    return this.#releases.release(id, leaseToken, now);
  }

  async liveInstanceIds(machineId: number): Promise<Set<number>> {
    const rows = await this.db.selectFrom('instances').select('id').where('machine_id', '=', machineId).where('status', '!=', 'destroyed').execute();
    return new Set(rows.map((r) => r.id));
  }
}
