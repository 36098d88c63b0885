import { GantryError } from '../../domain/errors.js';
import { toAccount, toApiKey } from './rows.js';
import type { Database } from './schema.js';
import type { StoreDialect } from '../dialects/store-dialect.js';
import type { NewAccount, NewApiKey } from '../tenant-store.js';
import type { Kysely } from 'kysely';
import type { AccountRecord, ApiKeyRecord } from '../../domain/account/records.js';

/*
 * The rows of a new account and of a new key, written by the tenant repository both alone and inside its
 * transactions (an account with its first key; a key under the per-account cap).
 */

const b = (v: boolean): number => (v ? 1 : 0);

export async function insertAccount(db: Kysely<Database>, dialect: StoreDialect, a: NewAccount): Promise<AccountRecord> {
  try {
    const row = await db
      .insertInto('accounts')
      .values({
        username: a.username,
        email: a.email,
        is_admin: b(a.isAdmin),
        balance: 0,
        created_at: a.now,
        parent_id: a.parentId ?? null,
        is_team: b(a.isTeam ?? false),
        host_only: b(a.hostOnly ?? false),
        deleted_at: null,
      })
      .returningAll()
      .executeTakeFirstOrThrow();
    return toAccount(row);
  } catch (err) {
    if (dialect.isUniqueViolation(err)) throw new GantryError('USER_EXISTS', `The username "${a.username}" is taken.`, { field: 'username' });
    throw err;
  }
}

export async function insertApiKey(db: Kysely<Database>, k: NewApiKey): Promise<ApiKeyRecord> {
  const row = await db
    .insertInto('api_keys')
    .values({
      account_id: k.accountId,
      key_hash: k.keyHash,
      name: k.name,
      scope: k.scope,
      instance_id: k.instanceId,
      created_at: k.now,
      revoked_at: null,
      permissions_json: k.permissions === undefined || k.permissions === null ? null : JSON.stringify(k.permissions),
      member_id: k.memberId ?? null,
    })
    .returningAll()
    .executeTakeFirstOrThrow();
  return toApiKey(row);
}
