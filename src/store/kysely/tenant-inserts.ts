import { GantryError } from '../../domain/errors.js';
import { toAccount, toApiKey } from './rows.js';
import { boundedInsert, type AccountBound } from './account-bound.js';
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
  const max = a.parentId != null ? (a.maxInTree ?? 0) : 0;
  // The top of the tree is held while the tree is counted (a parent chain never changes).
  const root = a.parentId != null && max > 0 ? await rootOf(db, a.parentId) : 0;
  const bound: AccountBound = {
    accountId: root,
    max,
    count: (q) => accountsInTree(q, root),
    refuse: (m) => new GantryError('ACCOUNT_LIMIT', `An account holds at most ${m} subaccounts and teams, at any depth.`, { limit: m }),
  };
  return boundedInsert(db, dialect, bound, (q) => insertAccountRow(q, dialect, a));
}

async function insertAccountRow(db: Kysely<Database>, dialect: StoreDialect, a: NewAccount): Promise<AccountRecord> {
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

/** The top-level account above `id` (itself, if it has no parent). */
async function rootOf(db: Kysely<Database>, id: number): Promise<number> {
  let at = id;
  // Bounded: a parent chain is as deep as subaccounts were nested, and never a cycle (a parent is older).
  for (let depth = 0; depth < 1_000; depth++) {
    const row = await db.selectFrom('accounts').select('parent_id').where('id', '=', at).executeTakeFirst();
    if (row?.parent_id == null) return at;
    at = row.parent_id;
  }
  return at;
}

/** Live accounts under `root`, at any depth (teams included), not counting the root itself. */
async function accountsInTree(db: Kysely<Database>, root: number): Promise<number> {
  const { n } = await db
    .withRecursive('tree(id, deleted_at)', (qb) =>
      qb
        .selectFrom('accounts')
        .select(['id', 'deleted_at'])
        .where('parent_id', '=', root)
        .unionAll((u) => u.selectFrom('accounts').innerJoin('tree', 'tree.id', 'accounts.parent_id').select(['accounts.id', 'accounts.deleted_at'])),
    )
    .selectFrom('tree')
    .select((eb) => eb.fn.countAll<number | string | bigint>().as('n'))
    .where('deleted_at', 'is', null)
    .executeTakeFirstOrThrow();
  return Number(n);
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
