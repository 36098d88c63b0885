import { ALL_PERMISSIONS, isWithin, parsePermissions, permissionsJson, type Permissions } from '../../domain/account/permissions.js';
import { GantryError } from '../../domain/errors.js';
import { OWNER_ROLE } from './authenticate.js';
import type { ControlContext } from '../context.js';
import { hashKey, newApiKey } from '../keys.js';
import { authorize, type Principal } from '../principal.js';
import type { AccountRecord, TeamMemberRecord, TeamRoleRecord } from '../../domain/account/records.js';

/**
 * A team is an account of its own: instances, keys and credit belong to the team. Members act for it
 * with team keys, which their role narrows at every use. The creator holds the `owner` role.
 */
async function teamOf(ctx: ControlContext, p: Principal, action: 'team.read' | 'team.write', resourceId: number | null = null): Promise<AccountRecord> {
  authorize(p, action, resourceId === null ? null : { kind: 'user', id: resourceId });
  const a = await ctx.store.getAccount(p.accountId);
  if (!a?.isTeam || a.deletedAt !== null) {
    throw new GantryError('TEAM_NOT_FOUND', 'This key does not act for a team: use the key `create team` gave, or one made with create api-key and team_id.');
  }
  return a;
}

export async function createTeam(ctx: ControlContext, p: Principal, name: string): Promise<{ team: AccountRecord; apiKey: string }> {
  authorize(p, 'team.write');
  if (p.actorId !== p.accountId) throw new GantryError('FORBIDDEN', 'A team key cannot create another team; use your own key.');
  const me = await ctx.store.getAccount(p.accountId);
  if (!/^[A-Za-z0-9][A-Za-z0-9._ -]{0,63}$/.test(name)) throw new GantryError('INVALID_ARGUMENT', 'team_name: 1-64 letters, digits, spaces, ".", "_" or "-".');
  const now = ctx.clock.now();
  const team = await ctx.store.createAccount({
    username: name,
    email: me?.email ?? `${name}@localhost`,
    isAdmin: false,
    isTeam: true,
    parentId: p.accountId,
    now,
    maxInTree: p.isAdmin ? 0 : ctx.settings.maxSubaccountsPerAccount,
  });
  await ctx.store.addTeamMember(team.id, p.accountId, OWNER_ROLE, now);
  const apiKey = newApiKey();
  await ctx.store.createApiKey({
    accountId: team.id,
    keyHash: hashKey(apiKey),
    name: `team ${name}`,
    scope: 'full',
    instanceId: null,
    memberId: p.accountId,
    now,
  });
  return { team, apiKey };
}

export async function deleteTeam(ctx: ControlContext, p: Principal): Promise<void> {
  const team = await teamOf(ctx, p, 'team.write');
  if ((await ctx.store.memberRole(team.id, p.actorId)) !== OWNER_ROLE) throw new GantryError('FORBIDDEN', 'Only a team owner may delete the team.');
  if ((await ctx.store.listInstances({ accountId: team.id })).length > 0) {
    throw new GantryError('ILLEGAL_TRANSITION', 'The team still has instances; destroy them first.', { teamId: team.id });
  }
  // A volume is billed to its account until deleted, and an endpoint recruits workers for it: a deleted team could do neither.
  if ((await ctx.store.listVolumes({ accountId: team.id })).length > 0) {
    throw new GantryError('ILLEGAL_TRANSITION', 'The team still has volumes; delete them first.', { teamId: team.id });
  }
  if ((await ctx.store.listEndpoints(team.id)).length > 0) {
    throw new GantryError('ILLEGAL_TRANSITION', 'The team still has endpoints or deployments; delete them first.', { teamId: team.id });
  }
  // A machine earns for its owner (its rentals' and its volume offer's charges): a deleted team's earnings would reach nobody.
  if ((await ctx.store.listMachines(ctx.clock.now())).some((m) => m.ownerId === team.id)) {
    throw new GantryError('ILLEGAL_TRANSITION', 'The team still has machines; delete them first.', { teamId: team.id });
  }
  await ctx.store.deleteTeam(team.id, ctx.clock.now(), p.actorId);
}

/**
 * A member changes the team within their own rights only, so `team_write` is not a way to every other
 * permission: a role they create or change, or give to someone, holds nothing their key does not; a role
 * above theirs is not theirs to change, remove, or take a member away from; and what owners hold (the
 * `owner` role) only an owner gives or takes.
 */
async function isOwner(ctx: ControlContext, teamId: number, p: Principal): Promise<boolean> {
  return (await ctx.store.memberRole(teamId, p.actorId)) === OWNER_ROLE;
}

function rightsOf(role: TeamRoleRecord): Permissions {
  return role.name === OWNER_ROLE ? ALL_PERMISSIONS : parsePermissions(role.permissions);
}

async function withinCaller(ctx: ControlContext, teamId: number, p: Principal, role: TeamRoleRecord, doing: string): Promise<void> {
  if (role.name === OWNER_ROLE ? await isOwner(ctx, teamId, p) : isWithin(rightsOf(role), p.scopes)) return;
  const why = role.name === OWNER_ROLE ? 'only an owner may' : 'it holds permissions this key does not, and a member changes the team within their own rights';
  throw new GantryError('FORBIDDEN', `You may not ${doing} the role "${role.name}": ${why}.`, { role: role.name });
}

/** The role a member holds, by its name (never an id). */
async function heldRole(ctx: ControlContext, teamId: number, name: string): Promise<TeamRoleRecord> {
  if (name === OWNER_ROLE) return ownerRole(teamId);
  return (await ctx.store.getTeamRole(teamId, name)) ?? { id: 0, teamId, name, permissions: {} };
}

function checkRoleName(name: string): void {
  if (!/^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/.test(name)) throw new GantryError('INVALID_ARGUMENT', 'role name: 1-64 letters, digits, ".", "_" or "-".');
  if (name === OWNER_ROLE) throw new GantryError('INVALID_ARGUMENT', `"${OWNER_ROLE}" is built in (every permission) and cannot be redefined.`);
}

/** The built-in role, shown like a stored one (id 0: no stored role has it) so clients can list and read it. */
function ownerRole(teamId: number): TeamRoleRecord {
  return { id: 0, teamId, name: OWNER_ROLE, permissions: permissionsJson(ALL_PERMISSIONS) };
}

/**
 * A role named as Vast's clients name it: `update team-role` by id, the other verbs by name. A number
 * is an id first (a stored role may have a digits-only name: it is found by name when no id matches).
 */
async function findRole(ctx: ControlContext, teamId: number, ref: string): Promise<TeamRoleRecord> {
  if (ref === OWNER_ROLE || ref === '0') return ownerRole(teamId);
  const byId = /^\d+$/.test(ref) ? (await ctx.store.listTeamRoles(teamId)).find((r) => r.id === Number(ref)) : undefined;
  const r = byId ?? (await ctx.store.getTeamRole(teamId, ref));
  if (!r) throw new GantryError('TEAM_NOT_FOUND', `The team has no role "${ref}".`);
  return r;
}

export async function createRole(ctx: ControlContext, p: Principal, name: string, permissions: unknown): Promise<TeamRoleRecord> {
  const team = await teamOf(ctx, p, 'team.write');
  checkRoleName(name);
  parsePermissions(permissions, { strict: true });
  await withinCaller(ctx, team.id, p, { id: 0, teamId: team.id, name, permissions }, 'create');
  return ctx.store.putTeamRole(team.id, name, permissions, 'create');
}

/** New permissions for a role named by id or name; a role keeps its name (members hold it by name). */
export async function updateRole(
  ctx: ControlContext,
  p: Principal,
  ref: string,
  change: { name: string | null; permissions: unknown },
): Promise<TeamRoleRecord> {
  const team = await teamOf(ctx, p, 'team.write');
  const role = await findRole(ctx, team.id, ref);
  checkRoleName(role.name);
  if (change.name !== null && change.name !== role.name) {
    throw new GantryError(
      'INVALID_ARGUMENT',
      `A role keeps its name: create a role "${change.name}", give its members the new role, then remove "${role.name}".`,
      {
        field: 'name',
      },
    );
  }
  const permissions = change.permissions === undefined || change.permissions === null ? role.permissions : change.permissions;
  if (permissions !== role.permissions) parsePermissions(permissions, { strict: true });
  await withinCaller(ctx, team.id, p, role, 'change');
  await withinCaller(ctx, team.id, p, { ...role, permissions }, 'give');
  return ctx.store.putTeamRole(team.id, role.name, permissions, 'update');
}

/** The team's roles, the built-in owner first. */
export async function listRoles(ctx: ControlContext, p: Principal): Promise<TeamRoleRecord[]> {
  const team = await teamOf(ctx, p, 'team.read');
  return [ownerRole(team.id), ...(await ctx.store.listTeamRoles(team.id))];
}

export async function getRole(ctx: ControlContext, p: Principal, ref: string): Promise<TeamRoleRecord> {
  return findRole(ctx, (await teamOf(ctx, p, 'team.read')).id, ref);
}

export async function deleteRole(ctx: ControlContext, p: Principal, ref: string): Promise<void> {
  const team = await teamOf(ctx, p, 'team.write');
  const role = await findRole(ctx, team.id, ref);
  const { name } = role;
  if (name === OWNER_ROLE) throw new GantryError('INVALID_ARGUMENT', `"${OWNER_ROLE}" is built in and cannot be removed.`);
  await withinCaller(ctx, team.id, p, role, 'remove');
  if ((await ctx.store.teamMembers(team.id)).some((m) => m.role === name)) {
    throw new GantryError('ILLEGAL_TRANSITION', `Members hold the role "${name}"; give them another role first.`);
  }
  if (!(await ctx.store.deleteTeamRole(team.id, name))) throw new GantryError('TEAM_NOT_FOUND', `The team has no role "${name}".`);
}

/**
 * Adds the account with this email at once; there is no mail on a self-hosted install. By email only, as Vast's
 * clients send it: by username, the member list would tell the inviter the email of anyone whose username it knew.
 */
export async function inviteMember(ctx: ControlContext, p: Principal, who: string, roleRef: string): Promise<AccountRecord> {
  const team = await teamOf(ctx, p, 'team.write');
  const role = await findRole(ctx, team.id, roleRef);
  await withinCaller(ctx, team.id, p, role, 'give');
  const a = await ctx.store.findAccountByEmail(who);
  if (!a || a.isTeam || a.deletedAt !== null) throw new GantryError('ACCOUNT_NOT_FOUND', `No user with the email ${who}.`);
  await ctx.store.addTeamMember(team.id, a.id, role.name, ctx.clock.now());
  return a;
}

export async function listMembers(ctx: ControlContext, p: Principal): Promise<TeamMemberRecord[]> {
  return ctx.store.teamMembers((await teamOf(ctx, p, 'team.read')).id);
}

export async function removeMember(ctx: ControlContext, p: Principal, accountId: number): Promise<void> {
  const team = await teamOf(ctx, p, 'team.write', accountId);
  const members = await ctx.store.teamMembers(team.id);
  const owners = members.filter((m) => m.role === OWNER_ROLE);
  // Leaving is every member's right; removing another is within the remover's rights only.
  const held = members.find((m) => m.account.id === accountId)?.role;
  if (held !== undefined && accountId !== p.actorId) await withinCaller(ctx, team.id, p, await heldRole(ctx, team.id, held), 'remove a member holding');
  if (owners.length === 1 && owners[0]?.account.id === accountId)
    throw new GantryError('ILLEGAL_TRANSITION', 'The last owner cannot leave; delete the team instead.');
  if (!(await ctx.store.removeTeamMember(team.id, accountId, ctx.clock.now())))
    throw new GantryError('ACCOUNT_NOT_FOUND', `No member ${accountId} in this team.`);
}
