import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { ProfileChange } from '../../../control/accounts/profile.js';
import { GantryError } from '../../../domain/errors.js';
import { apiKeyOf } from '../../edge/api-key.js';
import { principal } from '../../edge/principal.js';
import { vastUser } from './map.js';
import { asObject, optString, parseId } from './parse.js';

type Req = FastifyRequest<{ Params: Record<string, string>; Querystring: Record<string, unknown> }>;

/** `set user` fields Gantry keeps, by Vast's name. Every other field is refused, naming it (nothing is changed). */
function profileChange(body: unknown): ProfileChange {
  const b = asObject(body);
  const unsupported = Object.keys(b).filter((k) => !['email', 'fullname', 'ssh_key'].includes(k));
  const fullname = optString(b, 'fullname');
  return {
    ...(b.email !== undefined ? { email: optString(b, 'email') ?? '' } : {}),
    ...(b.fullname !== undefined ? { fullname: fullname === '' ? null : fullname } : {}),
    ...(b.ssh_key !== undefined ? { sshKey: optString(b, 'ssh_key') ?? '' } : {}),
    unsupported,
  };
}

/** The clients' 2FA calls: all of `/api/v0/tfa/...` (and the bare path), whatever the method. */
const TFA_METHODS = ['GET', 'POST', 'PUT', 'DELETE'] as const;

/**
 * The account as the user sees it: `show user` (with the key in use, as Vast shows it), `set user`,
 * the addresses it was used from, cloud connections and scheduled jobs (none here), and the 2FA
 * verbs, refused: Gantry authenticates every call with an API key.
 */
export function vastProfileRoutes(app: FastifyInstance, control: ControlPlane): void {
  const users = control.accounts.users;

  app.get('/api/v0/users/current', async (req) => {
    const p = principal(req);
    const account = await control.currentAccount(p);
    const ssh = await control.accounts.ssh.listSshKeys(p);
    // vast.py pops `api_key` without a default: the key this call was made with, which the caller holds already.
    // Gantry's own fields (`gantry show user`): which key this is and what it may do, category → ids (null: every id).
    const key = { api_key_id: p.keyId, api_key_scope: p.scope, api_key_permissions: Object.fromEntries(p.scopes) };
    return { ...vastUser(account), api_key: apiKeyOf(req), ssh_key: ssh[0]?.publicKey ?? null, ...key };
  });

  const setUser = async (req: Req): Promise<Record<string, unknown>> => {
    const a = await users.updateProfile(principal(req), req.params.id ?? null, profileChange(req.body));
    return { success: true, msg: 'User updated.', user: vastUser(a) };
  };
  app.put('/api/v0/users', setUser);
  app.put('/api/v0/users/:id', setUser);

  app.get('/api/v0/users/:id/ipaddrs', async (req: Req) => {
    const rows = await users.listAddresses(principal(req), req.params.id ?? null, 1000);
    return {
      success: true,
      results: rows.map((r) => ({ ip: r.ip, first_seen: r.firstSeen / 1000, last_seen: r.lastSeen / 1000, first_location: null })),
    };
  });

  app.get('/api/v0/users/cloud_integrations', async (req) => users.listCloudConnections(principal(req)));

  app.get('/api/v0/commands/schedule_job', async (req) => users.listScheduledJobs(principal(req)));
  app.post('/api/v0/commands/schedule_job', async (req) => users.changeScheduledJob(principal(req), null));
  app.put('/api/v0/commands/schedule_job/:id', async (req: Req) => users.changeScheduledJob(principal(req), parseId(req.params.id, 'scheduled job id')));
  app.delete('/api/v0/commands/schedule_job/:id', async (req: Req) => users.changeScheduledJob(principal(req), parseId(req.params.id, 'scheduled job id')));

  // Refused for every caller without authentication (route-config.ts): a 2FA login comes without a usable key.
  const tfa = (): never => {
    throw new GantryError('TFA_NOT_SUPPORTED', 'Two-factor authentication is not supported: Gantry uses API keys (create one with `create api-key`).');
  };
  app.route({ method: [...TFA_METHODS], url: '/api/v0/tfa', handler: tfa });
  app.route({ method: [...TFA_METHODS], url: '/api/v0/tfa/*', handler: tfa });
}
