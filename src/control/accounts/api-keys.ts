import { ALL_PERMISSIONS, isWithin, parsePermissions, permissionsJson } from '../../domain/account/permissions.js';
import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { hashKey, newApiKey } from '../keys.js';
import { authorize, type Principal } from '../principal.js';
import type { AccountRecord, ApiKeyRecord } from '../../domain/account/records.js';

export interface NewKeyRequest {
  readonly name: string;
  /** Vast's permission JSON; null: the caller's own permissions. */
  readonly permissions: unknown;
  /** A key acting for this team (the caller must be a member). */
  readonly teamId: number | null;
}

export interface KeyView {
  readonly key: ApiKeyRecord;
  /** The team the key acts for, when it is a team key. */
  readonly team: AccountRecord | null;
}

/** A key may only hand out what it holds itself; the plain key is returned once. */
export async function createApiKey(ctx: ControlContext, p: Principal, r: NewKeyRequest): Promise<{ id: number; key: string; permissions: unknown }> {
  authorize(p, 'account.write');
  const name = r.name.trim();
  if (name === '' || name.length > 100) throw new GantryError('INVALID_ARGUMENT', 'name: 1-100 characters.');
  const asked = r.permissions === null || r.permissions === undefined ? null : parsePermissions(r.permissions, { strict: true });
  if (asked !== null && !isWithin(asked, p.scopes)) {
    throw new GantryError('PERMISSION_ESCALATION', 'A key may only grant permissions its creator holds.');
  }
  let accountId = p.accountId;
  let memberId: number | null = p.actorId !== p.accountId ? p.actorId : null;
  if (r.teamId !== null && r.teamId !== p.accountId) {
    // A team key reaches its own team only: a key for another of its holder's teams (or the holder's own account)
    // would carry the holder's rights there, which this key was never given.
    if (p.actorId !== p.accountId) throw new GantryError('FORBIDDEN', 'A team key makes keys for its own team only; use your own key.', { teamId: r.teamId });
    if ((await ctx.store.memberRole(r.teamId, p.actorId)) === undefined) {
      throw new GantryError('TEAM_NOT_FOUND', `You are not a member of team ${r.teamId}.`, { teamId: r.teamId });
    }
    accountId = r.teamId;
    memberId = p.actorId;
  }
  // A scoped caller's new key without explicit permissions inherits the caller's, never more.
  const stored = asked !== null ? r.permissions : p.scopes === ALL_PERMISSIONS ? null : permissionsJson(p.scopes);
  const plain = newApiKey();
  const rec = await ctx.store.createApiKey({
    accountId,
    keyHash: hashKey(plain),
    name,
    scope: 'full',
    instanceId: null,
    permissions: stored,
    memberId,
    now: ctx.clock.now(),
    maxPerAccount: ctx.settings.maxApiKeysPerAccount,
  });
  // null: every permission its account holds (as `rights` reads in the key listing).
  return { id: rec.id, key: plain, permissions: stored };
}

export async function listApiKeys(ctx: ControlContext, p: Principal): Promise<KeyView[]> {
  authorize(p, 'account.read');
  return keyViews(ctx, p);
}

/**
 * The keys the caller holds, with their teams: checked by the caller (a listing, or one key's show). A person's
 * own key reaches all of them (personal and team keys); a team key only that team's: what a team's role lets a
 * key do stays within the team, not the person's own account.
 */
export async function keyViews(ctx: ControlContext, p: Principal): Promise<KeyView[]> {
  const held = await ctx.store.listApiKeys(p.actorId);
  const keys = p.accountId === p.actorId ? held : held.filter((k) => k.accountId === p.accountId);
  const teams = new Map<number, AccountRecord | undefined>();
  for (const k of keys) if (k.memberId !== null && !teams.has(k.accountId)) teams.set(k.accountId, await ctx.store.getAccount(k.accountId));
  return keys.map((k) => ({ key: k, team: k.memberId !== null ? (teams.get(k.accountId) ?? null) : null }));
}

export async function revokeApiKey(ctx: ControlContext, p: Principal, id: number): Promise<void> {
  authorize(p, 'account.write', { kind: 'api_key', id });
  const reachable = p.accountId === p.actorId || (await keyViews(ctx, p)).some((v) => v.key.id === id);
  if (!reachable || !(await ctx.store.revokeApiKey(id, p.actorId, ctx.clock.now())))
    throw new GantryError('API_KEY_NOT_FOUND', `No API key with id ${id}.`, { keyId: id });
}
