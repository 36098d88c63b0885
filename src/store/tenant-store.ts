import type {
  AccountRecord,
  ApiKeyRecord,
  AuditEntry,
  AuditRecord,
  KeyScope,
  SealedSecret,
  SshKeyRecord,
  TeamMemberRecord,
  TeamRoleRecord,
} from '../domain/account/records.js';
import type { ResourceGroupLabel, ResourceGroupRecord } from '../domain/account/resource-groups.js';

/** Accounts, keys, teams, secrets, SSH keys, audit and shared rate buckets: the tenancy part of the store port. */

export interface NewAccount {
  readonly username: string;
  readonly email: string;
  readonly isAdmin: boolean;
  readonly parentId?: number | null;
  readonly isTeam?: boolean;
  readonly hostOnly?: boolean;
  readonly now: number;
  /**
   * With a parent: the most accounts (subaccounts at any depth and teams) its top-level account's tree may
   * hold; one more is ACCOUNT_LIMIT. 0 or absent: no bound.
   */
  readonly maxInTree?: number;
}

export interface NewApiKey {
  readonly accountId: number;
  readonly keyHash: string;
  readonly name: string;
  readonly scope: KeyScope;
  readonly instanceId: number | null;
  readonly permissions?: unknown;
  readonly memberId?: number | null;
  readonly now: number;
  /** Refuse (API_KEY_LIMIT) when the account already holds this many live full keys; 0 or absent: no bound. */
  readonly maxPerAccount?: number;
}

/**
 * Every write that changes what a key may do (revoke, reset, instance keys revoked, team members and
 * roles, a team or account deleted) publishes `credential` on `Store.changes` once committed, with
 * the id of the account whose keys it touched: caches of principals depend on it.
 */
export interface TenantStore {
  /** USER_EXISTS when the username is taken. */
  createAccount(a: NewAccount): Promise<AccountRecord>;
  /**
   * An account, its first key and its starting credit in one transaction: USER_EXISTS or
   * INSUFFICIENT_CREDIT leave nothing behind.
   */
  createAccountWithKey(
    a: NewAccount,
    k: Omit<NewApiKey, 'accountId'>,
    credit: { readonly from: number | null; readonly amount: number; readonly note: string | null; readonly now: number } | null,
  ): Promise<{ account: AccountRecord; key: ApiKeyRecord }>;
  getAccount(id: number): Promise<AccountRecord | undefined>;
  findAccountByUsername(username: string): Promise<AccountRecord | undefined>;
  findAccountByEmail(email: string): Promise<AccountRecord | undefined>;
  listSubaccounts(parentId: number): Promise<AccountRecord[]>;
  markAccountDeleted(id: number, now: number): Promise<void>;
  /** Change what an account shows of itself; USER_EXISTS when another user account has the email. */
  updateAccountProfile(id: number, p: { readonly email?: string; readonly fullname?: string | null }): Promise<AccountRecord>;

  createApiKey(k: NewApiKey): Promise<ApiKeyRecord>;
  /** A live key by its hash; with `revoked`, a revoked one too (a hash is never given to two keys). */
  findApiKeyByHash(keyHash: string, o?: { readonly revoked?: boolean }): Promise<ApiKeyRecord | undefined>;
  /** A live key and its account in one query: what every authenticated request needs. */
  findKeyWithAccount(keyHash: string): Promise<{ key: ApiKeyRecord; account: AccountRecord } | undefined>;
  /** The same by key id (an access token names its key by id); revoked keys are not found. */
  findKeyWithAccountById(id: number): Promise<{ key: ApiKeyRecord; account: AccountRecord } | undefined>;
  /** Live account keys an account holds: its own, and team keys made for it. */
  listApiKeys(holderId: number): Promise<ApiKeyRecord[]>;
  /** Revoke one key the holder holds; false when there is no such live key. */
  revokeApiKey(id: number, holderId: number, now: number): Promise<boolean>;
  /** Give a live key the holder holds a new hash: the old key stops working at once. False when there is no such key. */
  rotateApiKey(id: number, holderId: number, keyHash: string): Promise<boolean>;
  revokeInstanceKeys(instanceId: number, now: number): Promise<void>;

  addTeamMember(teamId: number, accountId: number, role: string, now: number): Promise<void>;
  /** Also revokes the team keys made for the member. */
  removeTeamMember(teamId: number, accountId: number, now: number): Promise<boolean>;
  teamMembers(teamId: number): Promise<TeamMemberRecord[]>;
  memberRole(teamId: number, accountId: number): Promise<string | undefined>;
  teamsOf(accountId: number): Promise<AccountRecord[]>;
  putTeamRole(teamId: number, name: string, permissions: unknown, mode: 'create' | 'update'): Promise<TeamRoleRecord>;
  getTeamRole(teamId: number, name: string): Promise<TeamRoleRecord | undefined>;
  listTeamRoles(teamId: number): Promise<TeamRoleRecord[]>;
  deleteTeamRole(teamId: number, name: string): Promise<boolean>;
  /**
   * Mark the team deleted and revoke every key acting for it; its remaining credit moves to `creditTo` (a
   * transfer noted "team deleted"). INSUFFICIENT_CREDIT, and nothing changes, while the team's balance is below zero.
   */
  deleteTeam(teamId: number, now: number, creditTo: number): Promise<void>;

  /** SECRET_EXISTS on create of a taken name; SECRET_NOT_FOUND on update of a missing one. */
  putSecret(s: { accountId: number; name: string; sealed: string; keyId: string; now: number }, mode: 'create' | 'update'): Promise<void>;
  listSecrets(accountId: number): Promise<SealedSecret[]>;
  deleteSecret(accountId: number, name: string): Promise<boolean>;
  /** Secrets sealed under any key but `keyId` (to re-seal after a rotation). */
  secretsNotSealedWith(keyId: string, limit: number): Promise<SealedSecret[]>;
  /** Compare-and-set on the sealed text, so two replicas re-sealing at once cannot lose a user's update. */
  resealSecret(id: number, oldSealed: string, sealed: string, keyId: string): Promise<boolean>;

  /** `max`: most keys the account may hold (SSH_KEY_LIMIT past it); 0 or absent: no bound. */
  createSshKey(accountId: number, publicKey: string, now: number, max?: number): Promise<SshKeyRecord>;
  listSshKeys(accountId: number): Promise<SshKeyRecord[]>;
  getSshKey(id: number): Promise<SshKeyRecord | undefined>;
  /** Returns the instances the key is attached to, or null when the account has no such key. */
  updateSshKey(id: number, accountId: number, publicKey: string): Promise<number[] | null>;
  /** Deletes the key and detaches it from every instance; returns the instances it was attached to, or null when absent. */
  deleteSshKey(id: number, accountId: number, now: number): Promise<number[] | null>;
  attachSshKey(instanceId: number, sshKeyId: number): Promise<void>;
  detachSshKey(instanceId: number, sshKeyId: number): Promise<boolean>;
  instanceSshKeys(instanceId: number): Promise<SshKeyRecord[]>;
  /** The instances (not destroyed) the key is attached to, in one query. */
  sshKeyHolders(sshKeyId: number): Promise<number[]>;
  /** The instance's SSH port, allocated now if it has none (instances made before SSH access); null: none free. */
  giveSshPort(instanceId: number, busyPorts: ReadonlySet<number>): Promise<number | null>;
  /** Take back the instance's SSH port `port` (another program on its host holds it); a later `giveSshPort` gives another. */
  dropSshPort(instanceId: number, port: number): Promise<void>;

  /**
   * RESOURCE_GROUP_EXISTS when the account has the group already. `maxPerAccount`: most groups other than
   * `default` the account may hold (RESOURCE_GROUP_LIMIT past it); 0 or absent: no bound.
   */
  createResourceGroup(g: ResourceGroupRecord, maxPerAccount?: number): Promise<void>;
  getResourceGroup(accountId: number, id: string): Promise<ResourceGroupRecord | undefined>;
  /** The account's stored groups, oldest first (`default` only once its labels were set). */
  listResourceGroups(accountId: number): Promise<ResourceGroupRecord[]>;
  /** Replace the labels; false when the account has no such stored group. */
  setResourceGroupLabels(accountId: number, id: string, labels: readonly ResourceGroupLabel[]): Promise<boolean>;
  deleteResourceGroup(accountId: number, id: string): Promise<boolean>;

  recordAudit(e: AuditEntry): Promise<void>;
  /** Newest first; `beforeId` pages. */
  listAudit(accountIds: readonly number[], o: { limit: number; beforeId: number | null }): Promise<AuditRecord[]>;
  /** The addresses these accounts' audited calls came from, each with when it was first and last seen; most recent first. */
  listAuditAddresses(accountIds: readonly number[], limit: number): Promise<{ ip: string; firstSeen: number; lastSeen: number }[]>;

  /**
   * Shared token bucket: refill at `rate`/s up to `burst`, then take up to `want` tokens, atomically
   * for every replica on the database. Returns the tokens granted and the tokens left.
   */
  takeRateTokens(bucket: string, want: number, rate: number, burst: number, now: number): Promise<{ granted: number; left: number }>;
  /**
   * Forget buckets untouched since `before`: one is full again within two seconds of its last take (its burst
   * is twice its rate), as a bucket made anew is. Returns how many went.
   */
  pruneRateBuckets(before: number): Promise<number>;
}
