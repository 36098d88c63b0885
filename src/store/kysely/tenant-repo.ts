import { GantryError } from '../../domain/errors.js';
import { transact } from './tx.js';
import type { NewAccount, NewApiKey } from '../tenant-store.js';
import { parseJson, toAccount, toApiKey } from './rows.js';
import { Repo } from './repo.js';
import { insertAccount, insertApiKey } from './tenant-inserts.js';
import { boundedInsert, countRows, type AccountBound } from './account-bound.js';
import { moveCredit, type CreditMove } from './billing-repo.js';
import type { Database } from './schema.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { ChangeFeed } from '../change-feed.js';
import type { Kysely } from 'kysely';
import type { AccountRecord, ApiKeyRecord, SealedSecret, TeamMemberRecord, TeamRoleRecord } from '../../domain/account/records.js';

/**
 * Tenancy queries: accounts, keys, teams and secrets (`access-repo.ts` adds SSH keys, audit and rate
 * buckets); KyselyStore exposes their methods as part of the one store port.
 */
export class TenantRepo extends Repo {
  readonly #changes: ChangeFeed;

  constructor(db: Kysely<Database>, dialect: StoreDialect, changes: ChangeFeed) {
    super(db, dialect);
    this.#changes = changes;
  }

  /**
   * After a committed write that changes what some keys may do: `credential` with the account whose
   * keys (own, or held by its team members) it touched, so caches of principals forget them: on every replica before the write returns.
   */
  async #credentialChanged(accountId: number): Promise<void> {
    await this.#changes.publishConfirmed('credential', accountId);
  }

  async createAccount(a: NewAccount): Promise<AccountRecord> {
    return insertAccount(this.db, this.dialect, a);
  }

  async createAccountWithKey(
    a: NewAccount,
    k: Omit<NewApiKey, 'accountId'>,
    credit: Omit<CreditMove, 'to'> | null,
  ): Promise<{ account: AccountRecord; key: ApiKeyRecord }> {
    // One transaction: a refused credit transfer (INSUFFICIENT_CREDIT) leaves neither the account nor its key behind.
    return transact(this.db, async (trx) => {
      const account = await insertAccount(trx, this.dialect, a);
      const key = await insertApiKey(trx, { ...k, accountId: account.id });
      if (credit !== null) await moveCredit(trx, { ...credit, to: account.id });
      return { account: await trx.selectFrom('accounts').selectAll().where('id', '=', account.id).executeTakeFirstOrThrow().then(toAccount), key };
    });
  }

  async getAccount(id: number): Promise<AccountRecord | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirst();
    return row && toAccount(row);
  }

  async findAccountByUsername(username: string): Promise<AccountRecord | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('username', '=', username).executeTakeFirst();
    return row && toAccount(row);
  }

  async findAccountByEmail(email: string): Promise<AccountRecord | undefined> {
    const row = await this.db.selectFrom('accounts').selectAll().where('email', '=', email).where('is_team', '=', 0).orderBy('id').executeTakeFirst();
    return row && toAccount(row);
  }

  async listSubaccounts(parentId: number): Promise<AccountRecord[]> {
    const rows = await this.db.selectFrom('accounts').selectAll().where('parent_id', '=', parentId).where('is_team', '=', 0).orderBy('id').execute();
    return rows.map(toAccount);
  }

  async markAccountDeleted(id: number, now: number): Promise<void> {
    await this.db.updateTable('accounts').set({ deleted_at: now }).where('id', '=', id).execute();
    await this.#credentialChanged(id);
  }

  async updateAccountProfile(id: number, p: { readonly email?: string; readonly fullname?: string | null }): Promise<AccountRecord> {
    return transact(this.db, async (trx) => {
      if (p.email !== undefined) {
        const other = await trx
          .selectFrom('accounts')
          .select('id')
          .where('email', '=', p.email)
          .where('is_team', '=', 0)
          .where('id', '!=', id)
          .executeTakeFirst();
        if (other) throw new GantryError('USER_EXISTS', `An account with the email ${p.email} exists already.`, { field: 'email' });
      }
      const set = { ...(p.email !== undefined ? { email: p.email } : {}), ...(p.fullname !== undefined ? { fullname: p.fullname } : {}) };
      if (Object.keys(set).length > 0) await trx.updateTable('accounts').set(set).where('id', '=', id).execute();
      return toAccount(await trx.selectFrom('accounts').selectAll().where('id', '=', id).executeTakeFirstOrThrow());
    });
  }

  // ── keys ────────────────────────────────────────────────────────────
  async createApiKey(k: NewApiKey): Promise<ApiKeyRecord> {
    const bound: AccountBound = {
      accountId: k.accountId,
      max: k.maxPerAccount ?? 0,
      count: (q) => countRows(q.selectFrom('api_keys').where('account_id', '=', k.accountId).where('scope', '=', 'full').where('revoked_at', 'is', null)),
      refuse: (max) => new GantryError('API_KEY_LIMIT', `An account holds at most ${max} API keys; revoke one first.`, { limit: max }),
    };
    return boundedInsert(this.db, this.dialect, bound, (q) => insertApiKey(q, k));
  }

  async findApiKeyByHash(keyHash: string, o: { readonly revoked?: boolean } = {}): Promise<ApiKeyRecord | undefined> {
    const q = this.db.selectFrom('api_keys').selectAll().where('key_hash', '=', keyHash);
    const row = await (o.revoked === true ? q : q.where('revoked_at', 'is', null)).executeTakeFirst();
    return row && toApiKey(row);
  }

  async findKeyWithAccount(keyHash: string): Promise<{ key: ApiKeyRecord; account: AccountRecord } | undefined> {
    return this.#keyWithAccount('key_hash', keyHash);
  }

  async findKeyWithAccountById(id: number): Promise<{ key: ApiKeyRecord; account: AccountRecord } | undefined> {
    return this.#keyWithAccount('id', id);
  }

  async #keyWithAccount(by: 'key_hash' | 'id', value: string | number): Promise<{ key: ApiKeyRecord; account: AccountRecord } | undefined> {
    const row = await this.db
      .selectFrom('api_keys')
      .innerJoin('accounts', 'accounts.id', 'api_keys.account_id')
      .selectAll('api_keys')
      .select([
        'accounts.username',
        'accounts.email',
        'accounts.is_admin',
        'accounts.balance',
        'accounts.created_at as account_created_at',
        'accounts.parent_id',
        'accounts.is_team',
        'accounts.host_only',
        'accounts.deleted_at',
        'accounts.fullname',
      ])
      .where(`api_keys.${by}`, '=', value)
      .where('api_keys.revoked_at', 'is', null)
      .executeTakeFirst();
    if (!row) return undefined;
    return { key: toApiKey(row), account: toAccount({ ...row, id: row.account_id, created_at: row.account_created_at }) };
  }

  #heldBy(holderId: number) {
    return this.db
      .selectFrom('api_keys')
      .selectAll()
      .where('revoked_at', 'is', null)
      .where('scope', '=', 'full')
      .where((eb) => eb.or([eb.and([eb('account_id', '=', holderId), eb('member_id', 'is', null)]), eb('member_id', '=', holderId)]));
  }

  async listApiKeys(holderId: number): Promise<ApiKeyRecord[]> {
    return (await this.#heldBy(holderId).orderBy('id').execute()).map(toApiKey);
  }

  async revokeApiKey(id: number, holderId: number, now: number): Promise<boolean> {
    const held = await this.#heldBy(holderId).where('id', '=', id).executeTakeFirst();
    if (!held) return false;
    await this.db.updateTable('api_keys').set({ revoked_at: now }).where('id', '=', id).execute();
    await this.#credentialChanged(held.account_id);
    return true;
  }

  async rotateApiKey(id: number, holderId: number, keyHash: string): Promise<boolean> {
    const held = await this.#heldBy(holderId).where('id', '=', id).executeTakeFirst();
    if (!held) return false;
    const r = await this.db.updateTable('api_keys').set({ key_hash: keyHash }).where('id', '=', id).where('revoked_at', 'is', null).executeTakeFirst();
    // The old key is what stops working: whoever remembered it must read again.
    await this.#credentialChanged(held.account_id);
    return r.numUpdatedRows > 0n;
  }

  async revokeInstanceKeys(instanceId: number, now: number): Promise<void> {
    const owners = await this.db
      .selectFrom('api_keys')
      .select('account_id')
      .distinct()
      .where('instance_id', '=', instanceId)
      .where('revoked_at', 'is', null)
      .execute();
    if (owners.length === 0) return;
    await this.db.updateTable('api_keys').set({ revoked_at: now }).where('instance_id', '=', instanceId).where('revoked_at', 'is', null).execute();
    await Promise.all(owners.map((o) => this.#credentialChanged(o.account_id)));
  }

  // ── teams ───────────────────────────────────────────────────────────
  async addTeamMember(teamId: number, accountId: number, role: string, now: number): Promise<void> {
    try {
      await this.db.insertInto('team_members').values({ team_id: teamId, account_id: accountId, role, created_at: now }).execute();
    } catch (err) {
      if (this.dialect.isUniqueViolation(err)) throw new GantryError('USER_EXISTS', 'User is already a member of this team.');
      throw err;
    }
    await this.#credentialChanged(teamId);
  }

  async removeTeamMember(teamId: number, accountId: number, now: number): Promise<boolean> {
    const removed = await transact(this.db, async (trx) => {
      const r = await trx.deleteFrom('team_members').where('team_id', '=', teamId).where('account_id', '=', accountId).executeTakeFirst();
      if (r.numDeletedRows === 0n) return false;
      await trx
        .updateTable('api_keys')
        .set({ revoked_at: now })
        .where('account_id', '=', teamId)
        .where('member_id', '=', accountId)
        .where('revoked_at', 'is', null)
        .execute();
      return true;
    });
    if (removed) await this.#credentialChanged(teamId);
    return removed;
  }

  async teamMembers(teamId: number): Promise<TeamMemberRecord[]> {
    const rows = await this.db
      .selectFrom('team_members')
      .innerJoin('accounts', 'accounts.id', 'team_members.account_id')
      .selectAll('accounts')
      .select('team_members.role')
      .where('team_members.team_id', '=', teamId)
      .orderBy('accounts.id')
      .execute();
    return rows.map((r) => ({ account: toAccount(r), role: r.role }));
  }

  async memberRole(teamId: number, accountId: number): Promise<string | undefined> {
    const r = await this.db.selectFrom('team_members').select('role').where('team_id', '=', teamId).where('account_id', '=', accountId).executeTakeFirst();
    return r?.role;
  }

  async teamsOf(accountId: number): Promise<AccountRecord[]> {
    const rows = await this.db
      .selectFrom('team_members')
      .innerJoin('accounts', 'accounts.id', 'team_members.team_id')
      .selectAll('accounts')
      .where('team_members.account_id', '=', accountId)
      .where('accounts.deleted_at', 'is', null)
      .orderBy('accounts.id')
      .execute();
    return rows.map(toAccount);
  }

  async putTeamRole(teamId: number, name: string, permissions: unknown, mode: 'create' | 'update'): Promise<TeamRoleRecord> {
    const json = JSON.stringify(permissions);
    if (mode === 'update') {
      const r = await this.db
        .updateTable('team_roles')
        .set({ permissions_json: json })
        .where('team_id', '=', teamId)
        .where('name', '=', name)
        .executeTakeFirst();
      if (r.numUpdatedRows === 0n) throw new GantryError('TEAM_NOT_FOUND', `The team has no role "${name}".`);
    } else {
      try {
        await this.db.insertInto('team_roles').values({ team_id: teamId, name, permissions_json: json }).execute();
      } catch (err) {
        if (this.dialect.isUniqueViolation(err)) throw new GantryError('ROLE_EXISTS', `The team has a role "${name}" already.`, { role: name });
        throw err;
      }
    }
    // A new role too: a member may hold a role name that had been deleted (no rights until it exists).
    await this.#credentialChanged(teamId);
    return (await this.getTeamRole(teamId, name)) as TeamRoleRecord;
  }

  async getTeamRole(teamId: number, name: string): Promise<TeamRoleRecord | undefined> {
    const r = await this.db.selectFrom('team_roles').selectAll().where('team_id', '=', teamId).where('name', '=', name).executeTakeFirst();
    return r && { id: r.id, teamId: r.team_id, name: r.name, permissions: parseJson<unknown>(r.permissions_json, null) };
  }

  async listTeamRoles(teamId: number): Promise<TeamRoleRecord[]> {
    const rows = await this.db.selectFrom('team_roles').selectAll().where('team_id', '=', teamId).orderBy('id').execute();
    return rows.map((r) => ({ id: r.id, teamId: r.team_id, name: r.name, permissions: parseJson<unknown>(r.permissions_json, null) }));
  }

  async deleteTeamRole(teamId: number, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('team_roles').where('team_id', '=', teamId).where('name', '=', name).executeTakeFirst();
    if (r.numDeletedRows > 0n) await this.#credentialChanged(teamId);
    return r.numDeletedRows > 0n;
  }

  async deleteTeam(teamId: number, now: number, creditTo: number): Promise<void> {
    await transact(this.db, async (trx) => {
      // Marked first: the row is then held, so the balance read next is final (a transfer racing in waits, then finds the team gone).
      await trx.updateTable('accounts').set({ deleted_at: now }).where('id', '=', teamId).execute();
      const { balance } = await trx.selectFrom('accounts').select('balance').where('id', '=', teamId).executeTakeFirstOrThrow();
      if (balance < 0) {
        throw new GantryError('INSUFFICIENT_CREDIT', `The team owes $${(-balance).toFixed(2)}: send it credit first, then delete it.`, { balance });
      }
      // What is left would otherwise go with the team: it goes to the owner who deletes it, as a transfer both statements show.
      if (balance > 0) {
        await trx.updateTable('accounts').set({ balance: 0 }).where('id', '=', teamId).execute();
        await trx
          .updateTable('accounts')
          .set((eb) => ({ balance: eb('balance', '+', balance) }))
          .where('id', '=', creditTo)
          .execute();
        await trx
          .insertInto('transfers')
          .values({ from_account_id: teamId, to_account_id: creditTo, amount: balance, note: 'team deleted', at: now })
          .execute();
      }
      await trx.updateTable('api_keys').set({ revoked_at: now }).where('account_id', '=', teamId).where('revoked_at', 'is', null).execute();
      // Nor may a host join for it later: its host tokens go with its keys.
      await trx.updateTable('host_tokens').set({ revoked_at: now }).where('account_id', '=', teamId).where('revoked_at', 'is', null).execute();
      await trx.deleteFrom('team_members').where('team_id', '=', teamId).execute();
    });
    await this.#credentialChanged(teamId);
  }

  // ── secrets ─────────────────────────────────────────────────────────
  async putSecret(s: { accountId: number; name: string; sealed: string; keyId: string; now: number }, mode: 'create' | 'update'): Promise<void> {
    if (mode === 'update') {
      const r = await this.db
        .updateTable('secrets')
        .set({ sealed: s.sealed, key_id: s.keyId, updated_at: s.now })
        .where('account_id', '=', s.accountId)
        .where('name', '=', s.name)
        .executeTakeFirst();
      if (r.numUpdatedRows === 0n) throw new GantryError('SECRET_NOT_FOUND', `No env var named ${s.name}.`, { name: s.name });
      return;
    }
    try {
      await this.db
        .insertInto('secrets')
        .values({ account_id: s.accountId, name: s.name, sealed: s.sealed, key_id: s.keyId, created_at: s.now, updated_at: s.now })
        .execute();
    } catch (err) {
      if (this.dialect.isUniqueViolation(err)) {
        throw new GantryError('SECRET_EXISTS', `An env var named ${s.name} exists already; update it instead.`, { name: s.name });
      }
      throw err;
    }
  }

  async listSecrets(accountId: number): Promise<SealedSecret[]> {
    const rows = await this.db
      .selectFrom('secrets')
      .select(['id', 'account_id', 'name', 'sealed', 'key_id'])
      .where('account_id', '=', accountId)
      .orderBy('name')
      .execute();
    return rows.map((r) => ({ id: r.id, accountId: r.account_id, name: r.name, sealed: r.sealed, keyId: r.key_id }));
  }

  async deleteSecret(accountId: number, name: string): Promise<boolean> {
    const r = await this.db.deleteFrom('secrets').where('account_id', '=', accountId).where('name', '=', name).executeTakeFirst();
    return r.numDeletedRows > 0n;
  }

  async secretsNotSealedWith(keyId: string, limit: number): Promise<SealedSecret[]> {
    const rows = await this.db
      .selectFrom('secrets')
      .select(['id', 'account_id', 'name', 'sealed', 'key_id'])
      .where('key_id', '!=', keyId)
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map((r) => ({ id: r.id, accountId: r.account_id, name: r.name, sealed: r.sealed, keyId: r.key_id }));
  }

  async resealSecret(id: number, oldSealed: string, sealed: string, keyId: string): Promise<boolean> {
    const r = await this.db.updateTable('secrets').set({ sealed, key_id: keyId }).where('id', '=', id).where('sealed', '=', oldSealed).executeTakeFirst();
    return r.numUpdatedRows > 0n;
  }
}
