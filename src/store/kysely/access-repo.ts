import { take } from '../../domain/account/token-bucket.js';
import { transact } from './tx.js';
import { Repo } from './repo.js';
import { boundedInsert, countRows, type AccountBound } from './account-bound.js';
import { GantryError } from '../../domain/errors.js';
import type { AuditEntry, AuditRecord, SshKeyRecord } from '../../domain/account/records.js';

/** SSH keys, the audit log and the shared rate buckets: the rest of the tenancy queries. */
export class AccessRepo extends Repo {
  // ── ssh keys ────────────────────────────────────────────────────────
  async createSshKey(accountId: number, publicKey: string, now: number, max = 0): Promise<SshKeyRecord> {
    const bound: AccountBound = {
      accountId,
      max,
      count: (q) => countRows(q.selectFrom('ssh_keys').where('account_id', '=', accountId).where('deleted_at', 'is', null)),
      refuse: (m) => new GantryError('SSH_KEY_LIMIT', `An account holds at most ${m} SSH keys; delete one first.`, { limit: m }),
    };
    const r = await boundedInsert(this.db, this.dialect, bound, (q) =>
      q
        .insertInto('ssh_keys')
        .values({ account_id: accountId, public_key: publicKey, created_at: now, deleted_at: null })
        .returningAll()
        .executeTakeFirstOrThrow(),
    );
    return { id: r.id, accountId: r.account_id, publicKey: r.public_key, createdAt: r.created_at };
  }

  async listSshKeys(accountId: number): Promise<SshKeyRecord[]> {
    const rows = await this.db.selectFrom('ssh_keys').selectAll().where('account_id', '=', accountId).where('deleted_at', 'is', null).orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, accountId: r.account_id, publicKey: r.public_key, createdAt: r.created_at }));
  }

  async getSshKey(id: number): Promise<SshKeyRecord | undefined> {
    const r = await this.db.selectFrom('ssh_keys').selectAll().where('id', '=', id).where('deleted_at', 'is', null).executeTakeFirst();
    return r && { id: r.id, accountId: r.account_id, publicKey: r.public_key, createdAt: r.created_at };
  }

  async updateSshKey(id: number, accountId: number, publicKey: string): Promise<number[] | null> {
    const r = await this.db
      .updateTable('ssh_keys')
      .set({ public_key: publicKey })
      .where('id', '=', id)
      .where('account_id', '=', accountId)
      .where('deleted_at', 'is', null)
      .executeTakeFirst();
    if (r.numUpdatedRows === 0n) return null;
    return (await this.db.selectFrom('instance_ssh_keys').select('instance_id').where('ssh_key_id', '=', id).execute()).map((x) => x.instance_id);
  }

  async deleteSshKey(id: number, accountId: number, now: number): Promise<number[] | null> {
    return transact(this.db, async (trx) => {
      const r = await trx
        .updateTable('ssh_keys')
        .set({ deleted_at: now })
        .where('id', '=', id)
        .where('account_id', '=', accountId)
        .where('deleted_at', 'is', null)
        .executeTakeFirst();
      if (r.numUpdatedRows === 0n) return null;
      const rows = await trx.deleteFrom('instance_ssh_keys').where('ssh_key_id', '=', id).returning('instance_id').execute();
      return rows.map((x) => x.instance_id);
    });
  }

  async attachSshKey(instanceId: number, sshKeyId: number): Promise<void> {
    try {
      await this.db.insertInto('instance_ssh_keys').values({ instance_id: instanceId, ssh_key_id: sshKeyId }).execute();
    } catch (err) {
      if (!this.dialect.isUniqueViolation(err)) throw err; // attached already: attaching is idempotent
    }
  }

  async detachSshKey(instanceId: number, sshKeyId: number): Promise<boolean> {
    const r = await this.db.deleteFrom('instance_ssh_keys').where('instance_id', '=', instanceId).where('ssh_key_id', '=', sshKeyId).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  async sshKeyHolders(id: number): Promise<number[]> {
    const rows = await this.db
      .selectFrom('instance_ssh_keys')
      .innerJoin('instances', 'instances.id', 'instance_ssh_keys.instance_id')
      .select('instance_ssh_keys.instance_id')
      .where('instance_ssh_keys.ssh_key_id', '=', id)
      .where('instances.status', '!=', 'destroyed')
      .orderBy('instance_ssh_keys.instance_id')
      .execute();
    return rows.map((r) => r.instance_id);
  }

  async instanceSshKeys(instanceId: number): Promise<SshKeyRecord[]> {
    const rows = await this.db
      .selectFrom('instance_ssh_keys')
      .innerJoin('ssh_keys', 'ssh_keys.id', 'instance_ssh_keys.ssh_key_id')
      .selectAll('ssh_keys')
      .where('instance_ssh_keys.instance_id', '=', instanceId)
      .where('ssh_keys.deleted_at', 'is', null)
      .orderBy('ssh_keys.id')
      .execute();
    return rows.map((r) => ({ id: r.id, accountId: r.account_id, publicKey: r.public_key, createdAt: r.created_at }));
  }

  /**
   * The instance's SSH port, given now from its machine's range when it has none (made before SSH access
   * existed); null when the range is full or another allocation took the port first (the next start asks again).
   */
  async giveSshPort(instanceId: number, busyPorts: ReadonlySet<number>): Promise<number | null> {
    try {
      return await transact(this.db, async (trx) => {
        const had = await trx
          .selectFrom('port_allocations')
          .select('host_port')
          .where('instance_id', '=', instanceId)
          .where('proto', '=', 'ssh')
          .executeTakeFirst();
        if (had) return had.host_port;
        const m = await trx
          .selectFrom('instances')
          .innerJoin('machines', 'machines.id', 'instances.machine_id')
          .select(['machines.id', 'machines.port_range_start', 'machines.port_range_end'])
          .where('instances.id', '=', instanceId)
          .executeTakeFirst();
        if (!m) return null;
        const used = new Set((await trx.selectFrom('port_allocations').select('host_port').where('machine_id', '=', m.id).execute()).map((r) => r.host_port));
        for (let p = m.port_range_start; p <= m.port_range_end; p++) {
          if (used.has(p) || busyPorts.has(p)) continue;
          await trx
            .insertInto('port_allocations')
            .values({ machine_id: m.id, host_port: p, instance_id: instanceId, container_port: 22, proto: 'ssh' })
            .execute();
          return p;
        }
        return null;
      });
    } catch (err) {
      if (this.dialect.isUniqueViolation(err)) return null;
      throw err;
    }
  }

  async dropSshPort(instanceId: number, port: number): Promise<void> {
    // Only that port: a port given meanwhile (another replica's start) is not this caller's to take.
    await this.db.deleteFrom('port_allocations').where('instance_id', '=', instanceId).where('proto', '=', 'ssh').where('host_port', '=', port).execute();
  }

  // ── audit ───────────────────────────────────────────────────────────
  async recordAudit(e: AuditEntry): Promise<void> {
    await this.db
      .insertInto('audit_log')
      .values({
        at: e.at,
        account_id: e.accountId,
        actor_id: e.actorId,
        key_id: e.keyId,
        method: e.method,
        path: e.path,
        route: e.route,
        status_code: e.statusCode,
        error_code: e.errorCode,
        ip: e.ip,
        request_id: e.requestId,
      })
      .execute();
  }

  async listAuditAddresses(accountIds: readonly number[], limit: number): Promise<{ ip: string; firstSeen: number; lastSeen: number }[]> {
    if (accountIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('audit_log')
      .select((eb) => ['ip', eb.fn.min('at').as('first_seen'), eb.fn.max('at').as('last_seen')])
      .where('account_id', 'in', accountIds)
      .groupBy('ip')
      .orderBy('last_seen', 'desc')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ ip: r.ip, firstSeen: Number(r.first_seen), lastSeen: Number(r.last_seen) }));
  }

  async listAudit(accountIds: readonly number[], o: { limit: number; beforeId: number | null }): Promise<AuditRecord[]> {
    if (accountIds.length === 0) return [];
    let q = this.db.selectFrom('audit_log').selectAll().where('account_id', 'in', accountIds);
    if (o.beforeId !== null) q = q.where('id', '<', o.beforeId);
    const rows = await q.orderBy('id', 'desc').limit(o.limit).execute();
    return rows.map((r) => ({
      id: r.id,
      at: r.at,
      accountId: r.account_id,
      actorId: r.actor_id,
      keyId: r.key_id,
      method: r.method,
      path: r.path,
      route: r.route,
      statusCode: r.status_code,
      errorCode: r.error_code,
      ip: r.ip,
      requestId: r.request_id,
    }));
  }

  // ── rate buckets ────────────────────────────────────────────────────
  async takeRateTokens(bucket: string, want: number, rate: number, burst: number, now: number): Promise<{ granted: number; left: number }> {
    return transact(this.db, async (trx) => {
      await trx
        .insertInto('rate_buckets')
        .values({ bucket, tokens: burst, at: now })
        .onConflict((oc) => oc.column('bucket').doNothing())
        .execute();
      // FOR UPDATE serialises replicas on this one bucket row (SQLite has one writer anyway).
      let q = trx.selectFrom('rate_buckets').select(['tokens', 'at']).where('bucket', '=', bucket);
      if (this.dialect.supportsSkipLocked) q = q.forUpdate();
      const cur = await q.executeTakeFirstOrThrow();
      const { granted, bucket: next } = take({ tokens: cur.tokens, at: cur.at }, want, rate, burst, now);
      await trx.updateTable('rate_buckets').set({ tokens: next.tokens, at: next.at }).where('bucket', '=', bucket).execute();
      return { granted, left: next.tokens };
    });
  }

  async pruneRateBuckets(before: number): Promise<number> {
    const r = await this.db.deleteFrom('rate_buckets').where('at', '<', before).executeTakeFirst();
    return Number(r.numDeletedRows);
  }
}
