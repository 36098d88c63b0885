/**
 * Every verb of the official Vast clients, with a realistic invocation each: the legacy `vast.py`, the
 * newer `vastai` CLI, the `VastAI` SDK class and the serverless client. Arguments come from fixtures the
 * suite makes through the API first (test/compat/vast-verbs.test.ts), so one verb's failure does not
 * cascade into the next; each client has its own mutable fixtures, so the clients run side by side.
 * Destructive verbs come last.
 */
import type { JudgeOptions } from './judge.js';

export type Client = 'legacy' | 'vastai' | 'sdk';

/** What the suite made for one client before the verbs run. */
export interface Fixtures {
  readonly url: string;
  readonly adminKey: string;
  /** A key of this client's own, spent by `reset api-key`. */
  readonly resetKey: string;
  readonly machine: number;
  /** A registered, idle second machine for the machine verbs that retire one. */
  readonly spareMachine: number;
  readonly offer: number;
  /** The running instance the instance verbs work on (the clients run one after another). */
  readonly instance: number;
  /** Instances rented just before this verb (`VerbCase.fresh`), for the destroy verbs. */
  readonly fresh: readonly number[];
  readonly apiKeyId: number;
  readonly sshKeyId: number;
  readonly sshKey: string;
  readonly endpointId: number;
  readonly endpointName: string;
  /** The endpoint with a real worker, shared by the clients (read-only). */
  readonly liveEndpointId: number;
  readonly liveEndpointName: string;
  readonly liveWorkergroupId: number;
  readonly workergroupId: number;
  readonly deploymentId: number;
  readonly teamKey: string;
  readonly roleName: string;
  readonly memberId: number;
  readonly inviteEmail: string;
  readonly recipientEmail: string;
  /** As created; `update template` gives the template a new hash, so what runs after it names the id. */
  readonly templateHash: string;
  readonly templateId: number;
  /**
   * A key of an account of this client's own that rents nothing: launch's default search excludes machines the
   * caller already rents on (Vast's rented=false), and the suite's one machine carries the admin's instances.
   */
  readonly launchKey: string;
  /** The volume offer of the main machine (shared by the clients, as `search volumes` shows it). */
  readonly volumeOffer: number;
  /** This client's own volume on the main machine: cloned, then deleted. */
  readonly volumeId: number;
  /** A volume offer on this client's spare machine, for `unlist volume`. */
  readonly spareVolumeOffer: number;
  /** Files the verbs read: permissions JSON, user JSON, a local directory to copy. */
  readonly permissionsFile: string;
  readonly userFile: string;
  readonly localDir: string;
  readonly tag: string;
}

export interface VerbCase extends JudgeOptions {
  /** The verb as its client names it; a variant adds words after ` --`. */
  readonly verb: string;
  /** CLI arguments, or Python for the SDK. */
  readonly run: (f: Fixtures) => string[] | { readonly code: string };
  /** A key other than the admin key (an SDK snippet uses it itself; `creates` cleans up that account's instances). */
  readonly key?: (f: Fixtures) => string;
  /** Rent this many instances just before (in `Fixtures.fresh`); the suite destroys what is left of them after. */
  readonly fresh?: number;
  /** Rent the fresh instances as interruptible, bidding this ($/hour) instead of on demand. */
  readonly freshBid?: number;
  /** What a person types at the client's prompts (a confirmation); without it a prompt reads end-of-input. */
  readonly input?: string;
  /** The verb may create instances: the suite destroys new ones after it, so few workloads run at once. */
  readonly creates?: boolean;
  /** Wait (bounded) for the main instance to reach this state after the verb: the next verb needs it. */
  readonly settle?: 'running' | 'stopped';
}

const v = (verb: string, args: (f: Fixtures) => string[], o: Omit<VerbCase, 'verb' | 'run'> = {}): VerbCase => ({ verb, run: args, ...o });

const inTwoDays = () => String(Math.floor(Date.now() / 1000) + 2 * 86400);

/** The CLI verbs of one client, in the order they run. */
export function cliVerbs(c: 'legacy' | 'vastai'): VerbCase[] {
  const legacy = c === 'legacy';
  const yes = legacy ? [] : ['-y'];
  const team = { key: (f: Fixtures) => f.teamKey };
  const cases: (VerbCase | false)[] = [
    // ── client-local ──
    v('help', () => ['help'], { local: true }),
    !legacy && v('update', () => ['update', '--check'], { local: true }),
    !legacy && v('uninstall', () => ['uninstall'], { local: true }),
    v('set api-key', (f) => ['set', 'api-key', f.adminKey], { local: true }),

    // ── reading ──
    v('search offers', () => ['search', 'offers', 'num_gpus=1', 'rented=any'], { expect: /RTX|4090/i }),
    v('search benchmarks', () => ['search', 'benchmarks']),
    v('search invoices', () => ['search', 'invoices']),
    v('search templates', () => ['search', 'templates']),
    v('search volumes', () => ['search', 'volumes']),
    v('search network-volumes', () => ['search', 'network-volumes']),
    v('show user', () => ['show', 'user'], { expect: /admin/ }),
    v('show api-keys', () => ['show', 'api-keys']),
    v('show api-key', (f) => ['show', 'api-key', String(f.apiKeyId)]),
    v('show ssh-keys', () => ['show', 'ssh-keys']),
    v('show env-vars', () => ['show', 'env-vars']),
    v('show audit-logs', () => ['show', 'audit-logs']),
    v('show subaccounts', () => ['show', 'subaccounts']),
    v('show ipaddrs', () => ['show', 'ipaddrs']),
    v('show connections', () => ['show', 'connections']),
    v('show deposit', (f) => ['show', 'deposit', String(f.instance)]),
    v('show earnings', () => ['show', 'earnings']),
    v('show invoices', () => ['show', 'invoices']),
    v('show invoices-v1', () => ['show', 'invoices-v1']),
    v('show scheduled-jobs', () => ['show', 'scheduled-jobs']),
    v('show instances', () => ['show', 'instances'], { expect: /running|loading/i }),
    v('show instance', (f) => ['show', 'instance', String(f.instance)], { expect: /running|loading/i }),
    legacy && v('show instances-v1', () => ['show', 'instances-v1']),
    v('show machines', () => ['show', 'machines']),
    v('show machine', (f) => ['show', 'machine', String(f.machine)]),
    v('show maints', (f) => ['show', 'maints', legacy ? '-ids' : '--ids', String(f.machine)], { mayBeEmpty: true }),
    v('show network-disks', () => ['show', 'network-disks']),
    v('show endpoints', () => ['show', 'endpoints']),
    v('show workergroups', () => ['show', 'workergroups']),
    v('show deployments', () => ['show', 'deployments']),
    v('show deployment', (f) => ['show', 'deployment', String(f.deploymentId)]),
    v('show deployment-versions', (f) => ['show', 'deployment-versions', String(f.deploymentId)]),
    v('show volumes', () => ['show', 'volumes']),
    legacy && v('show clusters', () => ['show', 'clusters']),
    legacy && v('show overlays', () => ['show', 'overlays']),
    v('show team-roles', () => ['show', 'team-roles'], team),
    v('show team-role', (f) => ['show', 'team-role', f.roleName], team),
    v('show members', () => ['show', 'members'], team),
    !legacy && v('show pending-price-increases', () => ['show', 'pending-price-increases']),
    !legacy && v('metrics gpu', () => ['metrics', 'gpu']),
    !legacy && v('metrics gpu-trends', () => ['metrics', 'gpu-trends', 'RTX 4090']),
    !legacy && v('metrics gpu-locations', () => ['metrics', 'gpu-locations']),
    v('get endpt-logs', (f) => ['get', 'endpt-logs', String(f.liveEndpointId)]),
    !legacy && v('get endpt-workers', (f) => ['get', 'endpt-workers', String(f.liveEndpointId)]),
    v('get wrkgrp-logs', (f) => ['get', 'wrkgrp-logs', String(f.liveWorkergroupId)]),
    v('reports', (f) => ['reports', String(f.machine)]),
    v('logs', (f) => ['logs', String(f.instance), '--tail', '20'], { mayBeEmpty: true }),
    v('ssh-url', (f) => ['ssh-url', String(f.instance)], { expect: /^ssh:\/\/root@/m }),
    v('scp-url', (f) => ['scp-url', String(f.instance)], { expect: /^scp:\/\/root@/m }),
    v('execute', (f) => ['execute', String(f.instance), 'ls -l'], { expect: /total/ }),

    // ── creating and changing ──
    v('create api-key', (f) => ['create', 'api-key', '--name', `compat-${f.tag}`, '--permission_file', f.permissionsFile]),
    v('create ssh-key', (f) => ['create', 'ssh-key', `${f.sshKey.replace(/ \S+$/, '')} made-by-${f.tag}`, ...(legacy ? ['--yes'] : ['-y'])]),
    v('update ssh-key', (f) => ['update', 'ssh-key', String(f.sshKeyId), f.sshKey]),
    v('attach ssh', (f) => ['attach', 'ssh', String(f.instance), f.sshKey]),
    v('detach ssh', (f) => ['detach', 'ssh', String(f.instance), String(f.sshKeyId)]),
    v('create env-var', (f) => ['create', 'env-var', `COMPAT_${f.tag.toUpperCase()}`, 'one']),
    v('update env-var', (f) => ['update', 'env-var', `COMPAT_${f.tag.toUpperCase()}`, 'two']),
    v('label instance', (f) => ['label', 'instance', String(f.instance), `compat-${f.tag}`]),
    v('prepay instance', (f) => ['prepay', 'instance', String(f.instance), '1']),
    v('change bid', (f) => ['change', 'bid', String(f.fresh[0]), '--price', '0.5'], { fresh: 1, freshBid: 0.3 }),
    v('update instance', (f) => ['update', 'instance', String(f.instance), '--template_hash_id', f.templateHash], { settle: 'running' }),
    v('take snapshot', (f) => ['take', 'snapshot', String(f.instance), '--repo', `compat/${f.tag}`, '--docker_login_user', 'u', '--docker_login_pass', 'p']),
    v('copy', (f) => ['copy', `local:${f.localDir}`, `C.${f.instance}:/tmp/compat`]),
    v('cancel copy', (f) => ['cancel', 'copy', String(f.instance)]),
    v('cancel sync', (f) => ['cancel', 'sync', String(f.instance)]),
    v('cloud copy', (f) => [
      'cloud',
      'copy',
      '--src',
      '/workspace',
      '--dst',
      '/backup',
      '--instance',
      String(f.instance),
      '--connection',
      '1',
      '--transfer',
      'Instance To Cloud',
    ]),
    v(
      'create instance',
      (f) => ['create', 'instance', String(f.offer), '--image', 'vastai/base-image', '--disk', '10', '--ssh', '--onstart-cmd', 'sleep 600'],
      { creates: true },
    ),
    legacy &&
      v(
        'create instance -- --ssh --direct',
        (f) => ['create', 'instance', String(f.offer), '--image', 'vastai/base-image', '--disk', '10', '--ssh', '--direct'],
        { creates: true },
      ),
    legacy &&
      v('create instance -- --jupyter', (f) => ['create', 'instance', String(f.offer), '--image', 'vastai/base-image', '--disk', '10', '--jupyter'], {
        creates: true,
      }),
    legacy &&
      v(
        'create instance -- --entrypoint --args',
        (f) => ['create', 'instance', String(f.offer), '--image', 'vastai/base-image', '--disk', '10', '--entrypoint', 'bash', '--args', '-c', 'sleep 600'],
        {
          creates: true,
        },
      ),
    legacy &&
      v('create instance -- --template_hash', (f) => ['create', 'instance', String(f.offer), '--template_hash', f.templateHash, '--disk', '10'], {
        creates: true,
      }),
    !legacy &&
      v(
        'create instances',
        (f) => ['create', 'instances', String(f.offer), String(f.offer), '--image', 'vastai/base-image', '--disk', '10', '--onstart-cmd', 'sleep 600'],
        { creates: true },
      ),
    v(
      'launch instance',
      () => ['launch', 'instance', '--gpu-name', 'RTX_4090', '--num-gpus', '1', '--image', 'vastai/base-image', '--disk', '10', '--onstart-cmd', 'sleep 600'],
      { creates: true, key: (f) => f.launchKey },
    ),
    v('create endpoint', (f) => ['create', 'endpoint', '--endpoint_name', `compat-${f.tag}-new`, '--max_workers', '2']),
    v('update endpoint', (f) => ['update', 'endpoint', String(f.endpointId), '--max_workers', '3', '--cold_workers', '0']),
    v('create workergroup', (f) => [
      'create',
      'workergroup',
      '--endpoint_name',
      f.endpointName,
      '--search_params',
      'num_gpus=1',
      '--launch_args',
      '--image vastai/base-image --disk 10 --onstart-cmd "sleep 600"',
      '--test_workers',
      '0',
      '--cold_workers',
      '0',
    ]),
    v('update workergroup', (f) => ['update', 'workergroup', String(f.workergroupId), '--search_params', 'num_gpus=1 gpu_ram>=20']),
    v('update workers', (f) => ['update', 'workers', String(f.workergroupId)]),
    v('create team', (f) => ['create', 'team', '--team-name', `compat-${f.tag}-new`]),
    v('create team-role', (f) => ['create', 'team-role', '--name', `new-${f.tag}`, '--permissions', f.permissionsFile], team),
    v('update team-role', (f) => ['update', 'team-role', f.roleName, '--name', f.roleName, '--permissions', f.permissionsFile], team),
    v('invite member', (f) => ['invite', 'member', '--email', f.inviteEmail, '--role', f.roleName], team),
    v('create subaccount', (f) => [
      'create',
      'subaccount',
      '--email',
      `sub-${f.tag}@example.com`,
      '--username',
      `sub-${f.tag}`,
      '--password',
      'compat-pw-1',
      '--type',
      'client',
    ]),
    v('set user', (f) => ['set', 'user', '--file', f.userFile]),
    v('transfer credit', (f) => ['transfer', 'credit', f.recipientEmail, '0.01', ...(legacy ? ['--skip'] : ['--skip'])]),
    v('create template', (f) => [
      'create',
      'template',
      '--name',
      `compat-${f.tag}-new`,
      '--image',
      'vastai/base-image',
      '--disk_space',
      '10',
      '--onstart-cmd',
      'sleep 600',
      '--search_params',
      'num_gpus=1',
    ]),
    v('update template', (f) => ['update', 'template', f.templateHash, '--name', `compat-${f.tag}-renamed`, '--image', 'vastai/base-image']),
    v('create volume', (f) => ['create', 'volume', String(f.volumeOffer), '--size', '5', '--name', `vol-${f.tag}`]),
    v('clone volume', (f) => ['clone', 'volume', String(f.volumeId), String(f.volumeOffer)]),
    v('create network-volume', (f) => ['create', 'network-volume', String(f.volumeOffer), '--size', '5', '--name', `nvol-${f.tag}`]),
    v('list volume', (f) => ['list', 'volume', String(f.machine), '--price_disk', '0.1', '--size', '50']),
    v('list volumes', (f) => ['list', 'volumes', String(f.machine), '--price_disk', '0.1', '--size', '50']),
    v('list network-volume', () => ['list', 'network-volume', '1', '--price_disk', '0.1', '--size', '50']),
    v('add network-disk', (f) => ['add', 'network-disk', String(f.machine), '/mnt/compat']),
    legacy && v('create cluster', (f) => ['create', 'cluster', '10.9.0.0/24', String(f.machine)]),
    legacy && v('join cluster', (f) => ['join', 'cluster', '1', String(f.machine)]),
    legacy && v('create overlay', () => ['create', 'overlay', '1', 'compat-overlay']),
    legacy && v('join overlay', (f) => ['join', 'overlay', 'compat-overlay', String(f.instance)]),
    legacy && v('remove-machine-from-cluster', (f) => ['remove-machine-from-cluster', '1', String(f.machine)]),
    v('list machine', (f) => ['list', 'machine', String(f.machine), '--price_gpu', '0.4', '--price_disk', '0.1', '--price_min_bid', '0.2']),
    v('list machines', (f) => ['list', 'machines', String(f.machine), '--price_gpu', '0.4', '--price_min_bid', '0.2']),
    v('set min-bid', (f) => ['set', 'min-bid', String(f.machine), '--price', '0.2']),
    v('set defjob', (f) => ['set', 'defjob', String(f.machine), '--price_gpu', '0.1', '--image', 'vastai/base-image']),
    v('remove defjob', (f) => ['remove', 'defjob', String(f.machine)]),
    v('schedule maint', (f) => ['schedule', 'maint', String(f.spareMachine), '--sdate', inTwoDays(), '--duration', '1', '--maintenance_category', 'software'], {
      input: 'y\n',
    }),
    v('cancel maint', (f) => ['cancel', 'maint', String(f.spareMachine)], { input: 'y\n' }),
    // The legacy verb has its own --url (default console.vast.ai) that overrides the global one: given after the
    // verb, named as the driver names the server (test/helpers/vast-clients.ts).
    v('self-test machine', (f) => ['self-test', 'machine', String(f.machine), ...(legacy ? ['--url', f.url.replace('127.0.0.1', 'localhost')] : [])]),
    !legacy && v('dump-logs', (f) => ['dump-logs', String(f.machine), '--output-dir', f.localDir]),
    // The main machine: its host is connected, and cleanup removes only folders of volumes that no longer exist.
    v('cleanup machine', (f) => ['cleanup', 'machine', String(f.machine)]),
    v('defrag machines', (f) => ['defrag', 'machines', String(f.spareMachine)]),
    v('stop instance', (f) => ['stop', 'instance', String(f.instance)], { settle: 'stopped', expect: /stop/i }),
    v('start instance', (f) => ['start', 'instance', String(f.instance)], { settle: 'running', expect: /start|reboot|recycl/i }),
    v('stop instances', (f) => ['stop', 'instances', String(f.instance)], { settle: 'stopped', expect: /stop/i }),
    v('start instances', (f) => ['start', 'instances', String(f.instance)], { settle: 'running', expect: /start|reboot|recycl/i }),
    v('reboot instance', (f) => ['reboot', 'instance', String(f.instance)], { settle: 'running', expect: /start|reboot|recycl/i }),
    v('recycle instance', (f) => ['recycle', 'instance', String(f.instance)], { settle: 'running', expect: /start|reboot|recycl/i }),
    !legacy && v('stop deployment', (f) => ['stop', 'deployment', String(f.deploymentId)]),
    !legacy && v('start deployment', (f) => ['start', 'deployment', String(f.deploymentId)]),
    !legacy && v('accept price-increase', () => ['accept', 'price-increase', '1', '-y']),
    !legacy && v('reject price-increase', () => ['reject', 'price-increase', '1', '-y']),
    !legacy && v('run benchmarks', (f) => ['run', 'benchmarks', '--template_hash', f.templateHash, '--gpus', '1x RTX 4090', '--timeout', '20', '--yes']),
    v('tfa status', () => ['tfa', 'status']),
    v('tfa totp-setup', () => ['tfa', 'totp-setup']),
    v('tfa send-email', () => ['tfa', 'send-email']),
    v('tfa send-sms', () => ['tfa', 'send-sms', '--phone-number', '+15555550100']),
    v('tfa resend-sms', () => ['tfa', 'resend-sms', '--secret', 'compat-secret']),
    v('tfa activate', () => ['tfa', 'activate', '123456', '--secret', 'compat-secret']),
    v('tfa login', () => ['tfa', 'login', '--code', '123456']),
    v('tfa auth-new', () => ['tfa', 'auth-new', '--code', '123456']),
    v('tfa regen-codes', () => ['tfa', 'regen-codes', '--code', '123456'], { input: 'y\n' }),
    v('tfa update', () => ['tfa', 'update', '1', '--label', 'phone']),
    v('tfa delete', () => ['tfa', 'delete', '--id-to-delete', '1', '--code', '123456'], { input: 'y\n' }),

    // ── removing (last) ──
    v('delete api-key', (f) => ['delete', 'api-key', String(f.apiKeyId)]),
    v('delete ssh-key', (f) => ['delete', 'ssh-key', String(f.sshKeyId)]),
    v('delete env-var', (f) => ['delete', 'env-var', `COMPAT_${f.tag.toUpperCase()}`]),
    v('delete scheduled-job', () => ['delete', 'scheduled-job', '1']),
    v('remove member', (f) => ['remove', 'member', String(f.memberId)], team),
    v('remove team-role', (f) => ['remove', 'team-role', `new-${f.tag}`], team),
    v('delete template', (f) => ['delete', 'template', '--template-id', String(f.templateId)]),
    v('unlist volume', (f) => ['unlist', 'volume', String(f.spareVolumeOffer)]),
    v('unlist network-volume', () => ['unlist', 'network-volume', '1']),
    v('delete volume', (f) => ['delete', 'volume', String(f.volumeId)]),
    legacy && v('delete overlay', () => ['delete', 'overlay', 'compat-overlay']),
    legacy && v('delete cluster', () => ['delete', 'cluster', '1']),
    v('delete workergroup', (f) => ['delete', 'workergroup', String(f.workergroupId)]),
    v('delete deployment', (f) => ['delete', 'deployment', String(f.deploymentId)]),
    v('delete endpoint', (f) => ['delete', 'endpoint', String(f.endpointId)]),
    v('destroy instance', (f) => ['destroy', 'instance', String(f.fresh[0]), ...yes], { fresh: 1, expect: /destroy/i }),
    v('destroy instances', (f) => ['destroy', 'instances', ...f.fresh.map(String), ...yes], { fresh: 2 }),
    v('unlist machine', (f) => ['unlist', 'machine', String(f.spareMachine)]),
    v('delete machine', (f) => ['delete', 'machine', String(f.spareMachine)]),
    v('destroy team', () => ['destroy', 'team'], team),
    v('reset api-key', () => ['reset', 'api-key'], { key: (f) => f.resetKey }),
  ];
  return cases.filter((x): x is VerbCase => x !== false);
}

/** Prepended to every SDK snippet: the client, and `show(f, ...)` that prints a result or the error as the CLIs do. */
export const SDK_PRELUDE = `
import requests
from vastai import VastAI
v = VastAI(api_key=KEY, server_url=URL, retry=1)
def show(f, *a, **kw):
    try:
        r = f(*a, **kw)
    except requests.exceptions.HTTPError as e:
        try:
            msg = e.response.json().get("msg")
        except Exception:
            msg = e.response.text
        print(f"Failed with error {e.response.status_code}: {msg}")
        return None
    print(json.dumps(r, default=str)[:4000])
    return r
`;

const py = (verb: string, body: (f: Fixtures) => string, o: Omit<VerbCase, 'verb' | 'run'> = {}): VerbCase => ({
  verb,
  run: (f) => ({ code: SDK_PRELUDE + body(f) }),
  ...o,
});

/** The serverless client against Gantry: its root certificate download cannot work offline (SNAPSHOT.md). */
const serverless = (f: Fixtures, body: string): string =>
  `
import asyncio, ssl
from vastai.serverless.client.client import Serverless
async def main():
    c = Serverless(api_key=KEY, autoscaler_url=URL, webserver_url=URL)
    c._ssl_context = ssl.create_default_context()
    try:
${body
  .split('\n')
  .map((l) => `        ${l}`)
  .join('\n')}
    finally:
        await c.close()
asyncio.run(main())
`.replace('@LIVE@', f.liveEndpointName);

/** The SDK calls that matter, and the serverless client. */
export function sdkVerbs(): VerbCase[] {
  return [
    py(
      'Serverless.request',
      (f) =>
        serverless(
          f,
          `e = await c.get_endpoint("@LIVE@")
r = await e.request("/echo", {"hello": "gantry"}, timeout=60)
print(json.dumps(r["response"], default=str))`,
        ),
      { expect: /hello/ },
    ),
    py('Serverless.get_endpoint', (f) => serverless(f, 'e = await c.get_endpoint("@LIVE@")\nprint(e, e.id)'), { expect: /Endpoint/ }),
    py('Serverless.get_workers', (f) => serverless(f, 'e = await c.get_endpoint("@LIVE@")\nws = await c.get_endpoint_workers(e)\nprint(len(ws), ws)'), {
      expect: /^[1-9]/,
    }),
    py('show_user', () => 'show(v.show_user)', { expect: /admin/ }),
    py('search_offers', () => 'show(v.search_offers, query="num_gpus=1")', { expect: /RTX|4090/i }),
    py('show_instances', () => 'show(v.show_instances)', { expect: /running/ }),
    py('show_instance', (f) => `show(v.show_instance, ${f.instance})`, { expect: /running/ }),
    py('create_instance', (f) => `show(v.create_instance, ${f.offer}, image="vastai/base-image", disk=10, onstart_cmd="sleep 600")`, {
      expect: /new_contract/,
      creates: true,
    }),
    py('label_instance', (f) => `show(v.label_instance, ${f.instance}, "compat-sdk")`),
    py(
      'launch_instance',
      (f) =>
        `show(VastAI(api_key=${JSON.stringify(f.launchKey)}, server_url=URL, retry=1).launch_instance, "RTX_4090", "1", "vastai/base-image", disk=10, onstart_cmd="sleep 600")`,
      { creates: true, key: (f) => f.launchKey },
    ),
    py('show_endpoints', () => 'show(v.show_endpoints)'),
    py('show_workergroups', () => 'show(v.show_workergroups)'),
    py('get_endpoint_workers', (f) => `show(v.get_endpoint_workers, ${f.liveEndpointId})`),
    py('create_endpoint', (f) => `show(v.create_endpoint, endpoint_name="compat-${f.tag}-new", max_workers=2)`),
    py('show_api_keys', () => 'show(v.show_api_keys)'),
    py('show_ssh_keys', () => 'show(v.show_ssh_keys)'),
    py('show_env_vars', () => 'show(v.show_env_vars)'),
    py('show_machines', () => 'show(v.show_machines)'),
    py('show_invoices', () => 'show(v.show_invoices)'),
    py('search_templates', () => 'show(v.search_templates)'),
    py('show_volumes', () => 'show(v.show_volumes)'),
    py('execute', (f) => `show(v.execute, ${f.instance}, "ls -l")`),
    py('logs', (f) => `show(v.logs, ${f.instance})`, { mayBeEmpty: true }),
    py('stop_instance', (f) => `show(v.stop_instance, ${f.instance})`, { settle: 'stopped' }),
    py('start_instance', (f) => `show(v.start_instance, ${f.instance})`, { settle: 'running' }),
    py('destroy_instance', (f) => `show(v.destroy_instance, ${f.fresh[0]})`, { fresh: 1 }),
  ];
}
