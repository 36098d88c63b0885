/** Which API keys act for a whole account, and which only for one instance (CONTAINER_API_KEY). */
export type KeyScope = 'full' | 'instance';

/** An account: a user, a subaccount or a team. */
export interface AccountRecord {
  readonly id: number;
  readonly username: string;
  readonly email: string;
  readonly isAdmin: boolean;
  readonly balance: number;
  readonly createdAt: number;
  /** The account that made this one with `parent_id: "me"` (a subaccount); null for top-level accounts. */
  readonly parentId: number | null;
  /** A team is an account of its own that members act for with team keys. */
  readonly isTeam: boolean;
  readonly hostOnly: boolean;
  readonly deletedAt: number | null;
  /** What Vast's `set user` calls `fullname`; null until set. */
  readonly fullname: string | null;
}

export interface ApiKeyRecord {
  readonly id: number;
  readonly accountId: number;
  readonly name: string;
  readonly scope: KeyScope;
  readonly instanceId: number | null;
  /** Vast's permission JSON as given; null holds every permission. */
  readonly permissions: unknown;
  /** For a team key: the member it was made for (the member's role narrows it at every use). */
  readonly memberId: number | null;
  readonly createdAt: number;
}

export interface TeamRoleRecord {
  readonly id: number;
  readonly teamId: number;
  readonly name: string;
  readonly permissions: unknown;
}

export interface TeamMemberRecord {
  readonly account: AccountRecord;
  readonly role: string;
}

export interface SealedSecret {
  readonly id: number;
  readonly accountId: number;
  readonly name: string;
  readonly sealed: string;
  readonly keyId: string;
}

export interface SshKeyRecord {
  readonly id: number;
  readonly accountId: number;
  readonly publicKey: string;
  readonly createdAt: number;
}

export interface AuditEntry {
  readonly at: number;
  readonly accountId: number | null;
  readonly actorId: number | null;
  readonly keyId: number | null;
  readonly method: string;
  readonly path: string;
  readonly route: string;
  readonly statusCode: number;
  readonly errorCode: string | null;
  readonly ip: string;
  readonly requestId: string;
}

export interface AuditRecord extends AuditEntry {
  readonly id: number;
}
