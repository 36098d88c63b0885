import type { FastifyInstance, FastifyRequest } from 'fastify';
import { principal } from '../../edge/principal.js';
import type { ControlPlane } from '../../../control/control-plane.js';
import { GantryError } from '../../../domain/errors.js';
import { asObject, jsonParam, optBool, optId, optNumber, optString, parseId } from './parse.js';
import type { AccountRecord, SshKeyRecord } from '../../../domain/account/records.js';
import type { KeyView } from '../../../control/accounts/api-keys.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

const iso = (ms: number | null): string | null => (ms === null ? null : new Date(ms).toISOString());

/** Vast answers a missing username as an invalid request, like a malformed one. */
function requiredUsername(o: Record<string, unknown>): string {
  const v = optString(o, 'username');
  if (v === null || v === '') throw new GantryError('INVALID_USERNAME', "'username' is required.", { field: 'username' });
  return v;
}

function required(o: Record<string, unknown>, field: string): string {
  const v = optString(o, field);
  if (v === null || v === '') throw new GantryError('MISSING_INPUT', `'${field}' is required.`, { field });
  return v;
}

function sshKeyRow(k: SshKeyRecord): Record<string, unknown> {
  return { id: k.id, user_id: k.accountId, key: k.publicKey, public_key: k.publicKey, created_at: iso(k.createdAt), deleted_at: null };
}

function subaccountRow(a: AccountRecord, keyId: number | null): Record<string, unknown> {
  return {
    id: a.id,
    parent_id: a.parentId,
    key_id: keyId,
    username: a.username,
    email: a.email,
    host_only: a.hostOnly,
    created_at: iso(a.createdAt),
    deleted_at: iso(a.deletedAt),
  };
}

function apiKeyRow({ key, team }: KeyView): Record<string, unknown> {
  return {
    id: key.id,
    user_id: key.memberId ?? key.accountId,
    name: key.name,
    rights: key.permissions === null ? null : JSON.stringify(key.permissions),
    team_id: team?.id ?? null,
    team_name: team?.username ?? null,
    created_at: iso(key.createdAt),
  };
}

/** Users, subaccounts, API keys, teams, env vars (secrets), SSH keys and the audit log, in Vast's shapes. */
export function vastAccountRoutes(app: FastifyInstance, control: ControlPlane): void {
  const a = control.accounts;

  // ── users and subaccounts ──────────────────────────────────────────
  app.post('/api/v0/users', async (req) => {
    const p = principal(req);
    const b = asObject(req.body);
    const parent = optString(b, 'parent_id');
    // A subaccount is made under the calling account ("me", as Vast's clients send): a value naming another is refused, not read as "me".
    if (parent !== null && parent !== '' && parent !== 'me' && parent !== String(p.accountId))
      throw new GantryError(
        'INVALID_ARGUMENT',
        `parent_id must be "me": a subaccount is made under the calling account, not ${JSON.stringify(parent.slice(0, 50))}.`,
        {
          field: 'parent_id',
        },
      );
    const created = await a.users.createUser(p, {
      username: requiredUsername(b),
      email: optString(b, 'email'),
      subaccount: parent !== null && parent !== '',
      hostOnly: optBool(b, 'host_only') ?? false,
      credit: optNumber(b, 'credit') ?? 0,
    });
    return { id: created.account.id, username: created.account.username, email: created.account.email, key_id: created.keyId, api_key: created.apiKey };
  });
  app.get('/api/v0/subaccounts', async (req) => {
    const p = principal(req);
    return { users: (await a.users.listSubaccounts(p)).map((s) => subaccountRow(s.account, s.keyId)) };
  });

  // ── API keys ───────────────────────────────────────────────────────
  app.post('/api/v0/auth/apikeys', async (req) => {
    const p = principal(req);
    const b = asObject(req.body);
    const params = b.key_params !== undefined && b.key_params !== null ? asObject(jsonParam(b.key_params), 'key_params') : {};
    const team = optId(b, 'team_id', 'team id') ?? optId(params, 'team_id', 'team id');
    const permissions = typeof b.permissions === 'string' ? jsonParam(b.permissions) : b.permissions;
    return a.keys.createApiKey(p, { name: optString(b, 'name') ?? 'api key', permissions: permissions ?? null, teamId: team });
  });
  app.get('/api/v0/auth/apikeys', async (req) => {
    const p = principal(req);
    const rows = await a.keys.listApiKeys(p);
    return { apikeys: rows.map(apiKeyRow) };
  });
  app.get('/api/v0/auth/apikeys/:id', async (req: Req) => apiKeyRow(await a.keys.showApiKey(principal(req), parseId(req.params.id, 'api key id'))));
  // A new secret for the key making the call; the old one stops working at once.
  app.put('/api/v0/commands/reset_apikey', async (req) => {
    const r = await a.keys.resetApiKey(principal(req), optString(asObject(req.body), 'client_id'));
    return { success: true, msg: 'API key reset: the old key no longer works.', id: r.id, new_api_key: r.key };
  });
  app.delete('/api/v0/auth/apikeys/:id', async (req: Req) => {
    const p = principal(req);
    await a.keys.revokeApiKey(p, parseId(req.params.id, 'api key id'));
    return { success: true };
  });

  // ── teams ──────────────────────────────────────────────────────────
  app.post('/api/v0/team', async (req) => {
    const p = principal(req);
    const r = await a.teams.createTeam(p, required(asObject(req.body), 'team_name'));
    return { success: true, msg: `Team ${r.team.username} created.`, team_id: r.team.id, api_key: r.apiKey };
  });
  app.delete('/api/v0/team', async (req) => {
    await a.teams.deleteTeam(principal(req));
    return { success: true, msg: 'Team deleted.' };
  });
  app.post('/api/v0/team/roles', async (req) => {
    const p = principal(req);
    const b = asObject(req.body);
    const r = await a.teams.createRole(p, required(b, 'name'), jsonParam(b.permissions));
    return { success: true, msg: `Role ${r.name} created.`, id: r.id };
  });
  const roleRow = (r: { id: number; name: string; permissions: unknown }): Record<string, unknown> => ({
    id: r.id,
    name: r.name,
    identifier: r.name,
    permissions: r.permissions,
  });
  app.get('/api/v0/team/roles-full', async (req) => (await a.teams.listRoles(principal(req))).map(roleRow));
  // A role is named by id (`update team-role`) or by name (the other verbs); `owner` is built in.
  app.get('/api/v0/team/roles/:name', async (req: Req) => roleRow(await a.teams.getRole(principal(req), req.params.name ?? '')));
  app.put('/api/v0/team/roles/:name', async (req: Req) => {
    const p = principal(req);
    const b = asObject(req.body);
    const r = await a.teams.updateRole(p, req.params.name ?? '', { name: optString(b, 'name'), permissions: jsonParam(b.permissions) });
    return { success: true, msg: `Role ${r.name} updated.`, id: r.id, name: r.name };
  });
  app.delete('/api/v0/team/roles/:name', async (req: Req) => {
    await a.teams.deleteRole(principal(req), req.params.name ?? '');
    return { status: 'success', message: 'Role removed.' };
  });
  // The clients send email and role as query parameters with an empty body; a body is read too.
  app.post('/api/v0/team/invite', async (req: Req) => {
    const p = principal(req);
    const b = { ...req.query, ...asObject(req.body) };
    const m = await a.teams.inviteMember(p, required(b, 'email'), required(b, 'role'));
    return { success: true, msg: `${m.username} joined the team.`, user_id: m.id };
  });
  app.get('/api/v0/team/members', async (req) =>
    (await a.teams.listMembers(principal(req))).map((m) => ({
      id: m.account.id,
      username: m.account.username,
      email: m.account.email,
      fullname: m.account.username,
      roles: [m.role],
    })),
  );
  app.delete('/api/v0/team/members/:id', async (req: Req) => {
    await a.teams.removeMember(principal(req), parseId(req.params.id, 'member id'));
    return { status: 'success', message: 'Member removed.' };
  });

  // ── env vars (secrets) ─────────────────────────────────────────────
  app.get('/api/v0/secrets', async (req) => ({ success: true, secrets: await a.secrets.listSecrets(principal(req)) }));
  const putSecret = (mode: 'create' | 'update') => async (req: FastifyRequest) => {
    const p = principal(req);
    const b = asObject(req.body);
    const value = b.value;
    if (typeof value !== 'string') throw new GantryError('MISSING_INPUT', "Both 'key' and 'value' are required.", { field: 'value' });
    const name = await a.secrets.putSecret(p, required(b, 'key'), value, mode);
    return { success: true, msg: `Environment variable ${name} ${mode === 'create' ? 'added' : 'updated'}.` };
  };
  app.post('/api/v0/secrets', putSecret('create'));
  app.put('/api/v0/secrets', putSecret('update'));
  app.delete('/api/v0/secrets', async (req) => {
    const p = principal(req);
    await a.secrets.deleteSecret(p, required(asObject(req.body), 'key'));
    return { success: true, msg: 'Environment variable deleted.' };
  });

  // ── SSH keys ───────────────────────────────────────────────────────
  app.post('/api/v0/ssh', async (req) => {
    const p = principal(req);
    return { success: true, key: sshKeyRow(await a.ssh.createSshKey(p, asObject(req.body).ssh_key)) };
  });
  app.get('/api/v0/ssh', async (req) => (await a.ssh.listSshKeys(principal(req))).map(sshKeyRow));
  app.put('/api/v0/ssh/:id', async (req: Req) => {
    const p = principal(req);
    return { success: true, key: sshKeyRow(await a.ssh.updateSshKey(p, parseId(req.params.id, 'ssh key id'), asObject(req.body).ssh_key)) };
  });
  app.delete('/api/v0/ssh/:id', async (req: Req) => {
    await a.ssh.deleteSshKey(principal(req), parseId(req.params.id, 'ssh key id'));
    return { success: true };
  });
  app.post('/api/v0/instances/:id/ssh', async (req: Req) => {
    const p = principal(req);
    const id = parseId(req.params.id);
    const k = await a.ssh.attachSshKey(p, id, asObject(req.body).ssh_key);
    return { success: true, msg: `SSH key ${k.id} attached to instance ${id}.`, key_id: k.id };
  });
  app.get('/api/v0/instances/:id/ssh', async (req: Req) => {
    const keys = await a.ssh.instanceSshKeys(principal(req), parseId(req.params.id));
    return { success: true, ssh_keys: keys.map((k) => k.publicKey).join('\n'), keys: keys.map(sshKeyRow) };
  });
  app.delete('/api/v0/instances/:id/ssh/:keyId', async (req: Req) => {
    const p = principal(req);
    const id = parseId(req.params.id);
    await a.ssh.detachSshKey(p, id, parseId(req.params.keyId, 'ssh key id'));
    return { success: true, msg: `SSH key detached from instance ${id}.` };
  });

  // ── audit ──────────────────────────────────────────────────────────
  app.get('/api/v0/audit_logs', async (req: Req) => {
    const p = principal(req);
    const q = { limit: jsonParam(req.query.limit), before_id: jsonParam(req.query.before_id) };
    const limit = Math.min(1000, Math.max(1, Math.floor(optNumber(q, 'limit') ?? 100)));
    const rows = await a.audit.listAudit(p, { limit, beforeId: optId(q, 'before_id', 'audit log id') });
    return rows.map((r) => ({
      id: r.id,
      created_at: r.at / 1000,
      user_id: r.accountId,
      actor_id: r.actorId,
      api_key_id: r.keyId,
      ip_address: r.ip,
      method: r.method,
      api_route: r.route,
      path: r.path,
      status_code: r.statusCode,
      success: r.statusCode < 400,
      error: r.errorCode,
      request_id: r.requestId,
    }));
  });
}
