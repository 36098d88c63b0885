import { syncMeters } from './meter.js';
import { transact } from './tx.js';
import { boundedInsert, countRows, type AccountBound } from './account-bound.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { Kysely } from 'kysely';
import { GantryError } from '../../domain/errors.js';
import type { ListingWrite } from '../store.js';
import type { Database, HostTokenTable, MachineTable } from './schema.js';
import type { Selectable } from 'kysely';
import type { HostTokenRecord, MachineRegistration, UsageReport } from '../../domain/machine/machine.js';

/**
 * Fleet queries: host tokens, listings, maintenance, heartbeats with usage, and the offline mark.
 * Kept out of kysely-store.ts so each file reads as one family of queries.
 */
type Db = Kysely<Database>;

function toHostToken(r: Selectable<HostTokenTable>): HostTokenRecord {
  return { id: r.id, accountId: r.account_id, name: r.name, machineId: r.machine_id, createdAt: r.created_at, revokedAt: r.revoked_at };
}

const b = (v: boolean): number => (v ? 1 : 0);

/** What a host's verification vouches for; a hello that reports other values clears the mark. */
const VERIFIED_HARDWARE = ['gpu_name', 'num_gpus', 'gpu_ram_mb', 'compute_cap', 'cpu_name', 'cpu_cores'] as const;

/** Insert or refresh the machine row of a host (keyed by host_key); prices and listing keep their stored values. */
export async function registerMachine(
  db: Db,
  d: StoreDialect,
  m: MachineRegistration,
  now: number,
  o: { readonly bindToken?: number } = {},
): Promise<Selectable<MachineTable>> {
  const hardware = {
    owner_id: m.ownerId,
    hostname: m.hostname,
    gpu_name: m.gpuName,
    num_gpus: m.numGpus,
    gpu_ram_mb: m.gpuRamMb,
    gpu_declared: b(m.gpuDeclared),
    compute_cap: m.computeCap,
    cpu_name: m.cpuName,
    cpu_arch: m.cpuArch,
    cpu_cores: m.cpuCores,
    cpu_ram_mb: m.cpuRamMb,
    disk_space_gb: m.diskSpaceGb,
    driver_version: m.driverVersion,
    cuda_max_good: m.cudaMaxGood,
    public_ip: m.publicIp,
    port_range_start: m.portRangeStart,
    port_range_end: m.portRangeEnd,
    os_version: m.osVersion,
    runtime: m.runtime,
    isolation: m.isolation ?? null,
    last_seen_at: now,
  };
  return transact(db, async (trx) => {
    let q = trx
      .selectFrom('machines')
      .select(['id', 'verified', 'owner_id', 'deleted_at', ...VERIFIED_HARDWARE])
      .where('host_key', '=', m.hostKey);
    // Held until the registration ends: a delete under way (it renames the key) is either done before, and its
    // key no longer found, or waits for this one (SQLite has one writer anyway).
    if (d.supportsSkipLocked) q = q.forUpdate();
    const existing = await q.executeTakeFirst();
    // A deleted machine's row keeps its key renamed (`deleted:<id>:<key>`): a hello that names it does not bring the
    // machine back. Nor does a row change hands (its key said hello for another account first).
    if (existing && existing.deleted_at !== null)
      throw new GantryError('FORBIDDEN', `Machine ${existing.id} was deleted; its host key cannot join again.`, { machineId: existing.id });
    if (existing && existing.owner_id !== m.ownerId) throw new GantryError('FORBIDDEN', 'This host is registered to another account.');
    if (existing) {
      // An admin's mark vouches for the hardware it saw: a host that says hello with other GPUs or CPUs is
      // unverified until an admin looks again.
      const same = VERIFIED_HARDWARE.every((k) => existing[k] === hardware[k]);
      await trx
        .updateTable('machines')
        .set({ ...hardware, verified: m.verified ? 1 : same ? existing.verified : 0 })
        .where('id', '=', existing.id)
        .execute();
    } else {
      await trx
        .insertInto('machines')
        .values({
          ...hardware,
          host_key: m.hostKey,
          verified: b(m.verified),
          listed: 1,
          price_gpu: m.priceGpuPerHour,
          price_disk: m.priceDiskPerGbMonth,
          price_inetu: m.priceInetUpPerGb,
          price_inetd: m.priceInetDownPerGb,
          min_bid: m.minBidPerGpuHour,
          min_chunk: m.minChunk,
          geolocation: m.geolocation,
          reliability: m.reliability,
          inet_up: m.inetUpMbps,
          inet_down: m.inetDownMbps,
          created_at: now,
        })
        .execute();
    }
    const row = await trx.selectFrom('machines').selectAll().where('host_key', '=', m.hostKey).executeTakeFirstOrThrow();
    if (o.bindToken === undefined) return row;
    // In the registration's transaction: of hellos that race with one unbound token, one machine is written and
    // bound; the others wait on the token's row, find it bound, and leave no machine behind.
    const bound = await trx
      .updateTable('host_tokens')
      .set({ machine_id: row.id })
      .where('id', '=', o.bindToken)
      .where('machine_id', 'is', null)
      .executeTakeFirst();
    if (bound.numUpdatedRows > 0n) return row;
    const t = await trx.selectFrom('host_tokens').select('machine_id').where('id', '=', o.bindToken).executeTakeFirst();
    if (t?.machine_id !== row.id) throw new GantryError('FORBIDDEN', 'This host token was bound to another machine meanwhile.');
    return row;
  });
}

function machineNotFound(id: number): GantryError {
  return new GantryError('MACHINE_NOT_FOUND', `No machine with id ${id}.`, { machineId: id });
}

export async function recordHeartbeat(
  db: Db,
  machineId: number,
  h: { now: number; gpuUtils: readonly number[] | null; usage: readonly UsageReport[]; busyPorts?: readonly number[] },
  onlineWindowMs: number,
): Promise<boolean> {
  const seen = {
    last_seen_at: h.now,
    gpu_utils: h.gpuUtils === null ? null : JSON.stringify(h.gpuUtils),
    ...(h.busyPorts !== undefined && { busy_ports: JSON.stringify(h.busyPorts) }),
  };
  if (h.usage.length === 0) {
    // The common heartbeat, one statement instead of a transaction of four: the machine was online (seen within
    // the window), so nothing came back. Only when that matched no row is it written again and said to be back.
    // An agent sends its heartbeats one at a time, so nothing writes last_seen_at between the two.
    const online = await db
      .updateTable('machines')
      .set(seen)
      .where('id', '=', machineId)
      .where('last_seen_at', '>=', h.now - onlineWindowMs)
      .executeTakeFirst();
    if (online.numUpdatedRows > 0n) return false;
    const r = await db.updateTable('machines').set(seen).where('id', '=', machineId).executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }
  return transact(db, async (trx) => {
    const before = await trx.selectFrom('machines').select('last_seen_at').where('id', '=', machineId).executeTakeFirst();
    await trx.updateTable('machines').set(seen).where('id', '=', machineId).execute();
    const back = before !== undefined && h.now - Number(before.last_seen_at) > onlineWindowMs;
    // Only instances placed on this machine: an agent cannot write usage onto someone else's instance.
    const mine = new Set(
      (
        await trx
          .selectFrom('instances')
          .select('id')
          .where('machine_id', '=', machineId)
          .where(
            'id',
            'in',
            h.usage.map((u) => u.instanceId),
          )
          .execute()
      ).map((r) => r.id),
    );
    const rows = h.usage
      .filter((u) => mine.has(u.instanceId))
      .map((u) => ({
        instance_id: u.instanceId,
        cpu_util: u.cpuUtil,
        mem_usage_mb: u.memUsageMb,
        disk_usage_mb: u.diskUsageMb,
        updated_at: h.now,
      }));
    if (rows.length === 0) return back;
    await trx
      .insertInto('instance_usage')
      .values(rows)
      .onConflict((oc) =>
        oc.column('instance_id').doUpdateSet((eb) => ({
          cpu_util: eb.ref('excluded.cpu_util'),
          mem_usage_mb: eb.ref('excluded.mem_usage_mb'),
          disk_usage_mb: eb.ref('excluded.disk_usage_mb'),
          updated_at: eb.ref('excluded.updated_at'),
        })),
      )
      .execute();
    return back;
  });
}

export async function usageOf(db: Db, ids: readonly number[]): Promise<Map<number, UsageReport & { updatedAt: number }>> {
  if (ids.length === 0) return new Map();
  const rows = await db.selectFrom('instance_usage').selectAll().where('instance_id', 'in', ids).execute();
  return new Map(
    rows.map((r) => [
      r.instance_id,
      { instanceId: r.instance_id, cpuUtil: r.cpu_util, memUsageMb: r.mem_usage_mb, diskUsageMb: r.disk_usage_mb, updatedAt: r.updated_at },
    ]),
  );
}

export async function setListing(db: Db, machineId: number, l: ListingWrite & { listed: boolean }): Promise<void> {
  const set = {
    listed: l.listed ? 1 : 0,
    ...(l.priceGpuPerHour !== undefined && { price_gpu: l.priceGpuPerHour }),
    ...(l.priceDiskPerGbMonth !== undefined && { price_disk: l.priceDiskPerGbMonth }),
    ...(l.priceInetUpPerGb !== undefined && { price_inetu: l.priceInetUpPerGb }),
    ...(l.priceInetDownPerGb !== undefined && { price_inetd: l.priceInetDownPerGb }),
    ...(l.minBidPerGpuHour !== undefined && { min_bid: l.minBidPerGpuHour }),
    ...(l.minChunk !== undefined && { min_chunk: l.minChunk }),
    ...(l.endDate !== undefined && { end_date: l.endDate }),
    ...(l.discountRate !== undefined && { discount_rate: l.discountRate }),
  };
  const r = await db.updateTable('machines').set(set).where('id', '=', machineId).executeTakeFirst();
  if (r.numUpdatedRows === 0n) throw machineNotFound(machineId);
}

export async function setMaintenance(db: Db, machineId: number, w: { start: number; end: number; reason: string | null } | null): Promise<void> {
  const r = await db
    .updateTable('machines')
    .set({ maint_start: w?.start ?? null, maint_end: w?.end ?? null, maint_reason: w?.reason ?? null })
    .where('id', '=', machineId)
    .executeTakeFirst();
  if (r.numUpdatedRows === 0n) throw machineNotFound(machineId);
}

/** One UPDATE, safe from any replica: rows under a live lease are left to the reconciler that holds them. */
export async function markInstancesOfSilentMachines(db: Db, silentSince: number, msg: string, now: number): Promise<number[]> {
  return transact(db, async (trx) => {
    const silent = trx.selectFrom('machines').select('id').where('last_seen_at', '<', silentSince);
    const rows = await trx
      .updateTable('instances')
      .set({ status: 'unknown', status_msg: msg, status_changed_at: now })
      .where('machine_id', 'in', silent)
      .where('status', 'in', ['created', 'loading', 'running', 'rebooting', 'stopping'])
      .where((eb) => eb.or([eb('lease_expires_at', 'is', null), eb('lease_expires_at', '<', now)]))
      .returning('id')
      .execute();
    // Compute is not billed while nobody can see the workload.
    for (const r of rows) await syncMeters(trx, r.id, 'unknown', now);
    return rows.map((r) => r.id);
  });
}

export async function createHostToken(
  db: Db,
  d: StoreDialect,
  t: { accountId: number; tokenHash: string; name: string; now: number; maxLive?: number },
): Promise<HostTokenRecord> {
  const bound: AccountBound = {
    accountId: t.accountId,
    max: t.maxLive ?? 0,
    count: (q) => countRows(q.selectFrom('host_tokens').where('account_id', '=', t.accountId).where('revoked_at', 'is', null)),
    refuse: (max) =>
      new GantryError('HOST_TOKEN_LIMIT', `An account holds at most ${max} host tokens (one per machine); delete a machine, or ask an admin.`, { limit: max }),
  };
  return boundedInsert(db, d, bound, async (q) =>
    toHostToken(
      await q
        .insertInto('host_tokens')
        .values({ account_id: t.accountId, token_hash: t.tokenHash, name: t.name, machine_id: null, created_at: t.now, revoked_at: null })
        .returningAll()
        .executeTakeFirstOrThrow(),
    ),
  );
}

export async function findHostTokenByHash(db: Db, tokenHash: string): Promise<HostTokenRecord | undefined> {
  const row = await db.selectFrom('host_tokens').selectAll().where('token_hash', '=', tokenHash).executeTakeFirst();
  return row && toHostToken(row);
}

export async function bindHostToken(db: Db, id: number, machineId: number): Promise<boolean> {
  const r = await db.updateTable('host_tokens').set({ machine_id: machineId }).where('id', '=', id).where('machine_id', 'is', null).executeTakeFirst();
  return r.numUpdatedRows > 0n;
}
