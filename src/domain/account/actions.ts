import type { PermissionCategory } from './permissions.js';

/**
 * What a caller asks the engine to do. Every use case checks one of these against the principal
 * (src/control/principal.ts `authorize`), so no dialect can forget a check; each action needs one
 * scope (a permission category) of the caller's key.
 */
export const ACTION_SCOPES = {
  'instance.list': 'instance_read',
  'instance.read': 'instance_read',
  'instance.create': 'instance_write',
  /** start, stop, destroy */
  'instance.change': 'instance_write',
  /** label, reboot, recycle, attach or detach SSH keys; an admin's stop of every workload */
  'instance.manage': 'instance_write',
  /** list the SSH keys attached to an instance */
  'instance.ssh-keys': 'instance_read',
  'offer.search': 'misc',
  'machine.read': 'machine_read',
  'machine.write': 'machine_write',
  'account.read': 'user_read',
  'account.write': 'user_write',
  'billing.read': 'billing_read',
  'billing.write': 'billing_write',
  'team.read': 'team_read',
  'team.write': 'team_write',
  'serverless.read': 'misc',
  'serverless.write': 'misc',
  /** send requests to an endpoint with an account key (its own endpoint key needs no scope) */
  'serverless.invoke': 'misc',
  /** download a code deployment's current code (its workers' instance keys may too) */
  'serverless.code': 'misc',
  /** list and read AI Core resource groups */
  'resource-group.read': 'misc',
  /** create, relabel and delete resource groups */
  'resource-group.write': 'misc',
  /** scenarios, executables, configurations, artifacts (AI Core's catalog) */
  'catalog.read': 'misc',
  /** load serving templates, sync applications, create configurations and artifacts */
  'catalog.write': 'misc',
  /** trained models and ingest pipelines (the Elasticsearch dialect): list and read */
  'ml.read': 'misc',
  /** trained models and ingest pipelines: create, upload definitions and vocabularies, delete */
  'ml.write': 'misc',
  /** Vast templates: search (own and public ones) */
  'template.read': 'misc',
  /** create, edit and delete own templates */
  'template.write': 'misc',
  /** show volumes, search volume offers */
  'volume.read': 'instance_read',
  /** create, clone, delete volumes */
  'volume.write': 'instance_write',
} as const satisfies Readonly<Record<string, PermissionCategory>>;

export type Action = keyof typeof ACTION_SCOPES;

/**
 * What each action does, in words a refusal can use: a key's categories (`misc`, `instance_write`) say
 * little on their own, so "lacks the misc permission" names what was refused too.
 */
export const ACTION_WORDS: Readonly<Record<Action, string>> = {
  'instance.list': 'list instances',
  'instance.read': 'read an instance',
  'instance.create': 'create instances',
  'instance.change': 'start, stop or destroy an instance',
  'instance.manage': 'label, reboot, recycle or change the SSH keys of an instance',
  'instance.ssh-keys': "list an instance's SSH keys",
  'offer.search': 'search offers',
  'machine.read': 'read machines',
  'machine.write': 'change machines (list, unlist, maintenance, prices)',
  'account.read': 'read the account, its keys and settings',
  'account.write': 'change the account, its keys and settings',
  'billing.read': 'read invoices, charges and balances',
  'billing.write': 'transfer credit',
  'team.read': 'read the team',
  'team.write': 'change the team, its roles and members',
  'serverless.read': 'read endpoints, workergroups and deployments',
  'serverless.write': 'change endpoints, workergroups and deployments',
  'serverless.invoke': 'send requests to an endpoint',
  'serverless.code': "download a code deployment's code",
  'resource-group.read': 'read resource groups',
  'resource-group.write': 'change resource groups',
  'catalog.read': 'read scenarios, executables, configurations and artifacts',
  'catalog.write': 'change configurations, artifacts and serving templates',
  'ml.read': 'read trained models and pipelines',
  'ml.write': 'change trained models and pipelines',
  'template.read': 'search templates',
  'template.write': 'change templates',
  'volume.read': 'read volumes and volume offers',
  'volume.write': 'create, clone or delete volumes',
};

/**
 * What an instance's own key (CONTAINER_API_KEY) may do, on that instance only: read it, start, stop or
 * destroy it; a code deployment's worker may also download its deployment's code.
 */
export const INSTANCE_KEY_ACTIONS: ReadonlySet<Action> = new Set<Action>(['instance.list', 'instance.read', 'instance.change', 'serverless.code']);
