import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import * as audit from './audit.js';
import * as keys from './api-keys.js';
import * as secrets from './secrets.js';
import * as ssh from './ssh-keys.js';
import * as teams from './teams.js';
import * as users from './users.js';
import * as profile from './profile.js';
import * as tokens from './access-tokens.js';
import * as groups from './resource-groups.js';
import * as serviceKeys from './service-keys.js';
import * as billing from '../billing/billing.js';

type Bound<F> = F extends (ctx: ControlContext, ...args: infer A) => infer R ? (...args: A) => R : never;
function bind<T extends Record<string, unknown>>(ctx: ControlContext, mod: T): { [K in keyof T]: Bound<T[K]> } {
  const out: Record<string, unknown> = {};
  for (const [k, f] of Object.entries(mod)) if (typeof f === 'function') out[k] = (...a: unknown[]) => (f as (...x: unknown[]) => unknown)(ctx, ...a);
  return out as { [K in keyof T]: Bound<T[K]> };
}

/** Accounts, keys, teams, secrets, SSH keys, audit and billing, bound to one context. */
export function accountUseCases(ctx: ControlContext) {
  return {
    users: bind(ctx, {
      createUser: users.createUser,
      listSubaccounts: users.listSubaccounts,
      updateProfile: profile.updateProfile,
      listAddresses: profile.listAddresses,
      listCloudConnections: profile.listCloudConnections,
      listScheduledJobs: profile.listScheduledJobs,
      changeScheduledJob: profile.changeScheduledJob,
    }),
    keys: bind(ctx, {
      createApiKey: keys.createApiKey,
      listApiKeys: keys.listApiKeys,
      revokeApiKey: keys.revokeApiKey,
      showApiKey: profile.showApiKey,
      resetApiKey: profile.resetApiKey,
    }),
    teams: bind(ctx, {
      createTeam: teams.createTeam,
      deleteTeam: teams.deleteTeam,
      createRole: teams.createRole,
      updateRole: teams.updateRole,
      listRoles: teams.listRoles,
      getRole: teams.getRole,
      deleteRole: teams.deleteRole,
      inviteMember: teams.inviteMember,
      listMembers: teams.listMembers,
      removeMember: teams.removeMember,
    }),
    secrets: bind(ctx, {
      putSecret: secrets.putSecret,
      deleteSecret: secrets.deleteSecret,
      listSecrets: secrets.listSecrets,
      listSecretNames: secrets.listSecretNames,
    }),
    ssh: bind(ctx, {
      createSshKey: ssh.createSshKey,
      listSshKeys: ssh.listSshKeys,
      updateSshKey: ssh.updateSshKey,
      deleteSshKey: ssh.deleteSshKey,
      attachSshKey: ssh.attachSshKey,
      detachSshKey: ssh.detachSshKey,
      instanceSshKeys: ssh.instanceSshKeys,
    }),
    /** OAuth2 client credentials over API keys (AI Core's token endpoint and its JWTs). */
    tokens: bind(ctx, {
      issueAccessToken: tokens.issueAccessToken,
      authenticateAccessToken: tokens.authenticateAccessToken,
      createServiceKey: serviceKeys.createServiceKey,
    }),
    resourceGroups: bind(ctx, {
      createResourceGroup: groups.createResourceGroup,
      ensureResourceGroup: groups.ensureResourceGroup,
      listResourceGroups: groups.listResourceGroups,
      getResourceGroup: groups.getResourceGroup,
      relabelResourceGroup: groups.relabelResourceGroup,
      deleteResourceGroup: groups.deleteResourceGroup,
    }),
    audit: bind(ctx, { recordAudit: audit.recordAudit, listAudit: audit.listAudit }),
    billing: bind(ctx, {
      listCharges: billing.listCharges,
      workerInstanceIds: billing.workerInstanceIds,
      listTransfers: billing.listTransfers,
      instanceDeposit: billing.instanceDeposit,
      transferCredit: billing.transferCredit,
      machineEarnings: billing.machineEarnings,
      statement: billing.statement,
    }),
  };
}

export type AccountUseCases = ReturnType<typeof accountUseCases>;
export type { Principal };
