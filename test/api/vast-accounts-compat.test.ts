import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';
import { startVastClients, vastClientsMissing, type CliResult, type VastClients } from '../helpers/vast-clients.js';

/**
 * The account, team, key and billing verbs of both official Vast CLIs (and a few `VastAI` SDK
 * methods), unchanged, judged by what they print: the legacy CLI exits 0 on HTTP errors.
 */
const store = ONE_STORE[0];
const skip = store?.skip || vastClientsMissing();

/** The first `'name': 'value'` (a Python dict as the clients print it) or `"name": "value"` (JSON). */
const field = (out: string, name: string): string => {
  const m = new RegExp(`['"]${name}['"]: '?"?([^'",}\\s]+)`).exec(out);
  assert.ok(m, `no ${name} in: ${out}`);
  return m[1] as string;
};

const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGantrySetUser000000000000000000000000000000 ann@phone';

describe('the official Vast clients: account, team, key and billing verbs', { skip }, () => {
  let g: TestGantry;
  let vast: VastClients;
  let dir: string;
  /** Ann: a user of her own, so her changes touch no other test's account. */
  let ann: { id: number; key: string };
  const both = (): ((args: string[], key?: string) => Promise<CliResult>)[] => [(a, k) => vast.legacy(a, k), (a, k) => vast.vastai(a, k)];
  const file = (name: string, body: unknown): string => {
    const path = join(dir, name);
    writeFileSync(path, JSON.stringify(body));
    return path;
  };

  before(async () => {
    g = await startTestGantry(store!);
    vast = startVastClients(g.url, g.adminKey as string);
    dir = mkdtempSync(join(tmpdir(), 'gantry-vast-accts-'));
    const u = await g.api('POST', '/api/v0/users/', { username: 'ann', email: 'ann@example.com', credit: 5 });
    assert.equal(u.status, 200, u.text);
    ann = { id: u.body.id, key: u.body.api_key };
    assert.equal((await g.api('POST', '/api/v0/users/', { username: 'bob', email: 'bob@example.com' })).status, 200);
  });
  after(async () => {
    vast.close();
    rmSync(dir, { recursive: true, force: true });
    await g.dispose();
  });

  it('show user (the legacy CLI no longer crashes), set user: what Gantry keeps is set, the rest refused by name', async () => {
    const shown = await vast.legacy(['show', 'user'], ann.key);
    assert.match(shown.out, /ann@example\.com/);
    assert.doesNotMatch(shown.out, /Traceback|KeyError/);
    // Vast answers the key in use; both clients drop it before printing.
    assert.equal((await g.api('GET', '/api/v0/users/current/', undefined, { key: ann.key })).body.api_key, ann.key);
    assert.doesNotMatch((await vast.vastai(['show', 'user', '--raw'], ann.key)).out, new RegExp(ann.key));

    const set = await vast.legacy(
      ['set', 'user', '--file', file('user.json', { fullname: 'Ann Example', email: 'ann@example.org', ssh_key: SSH_KEY })],
      ann.key,
    );
    assert.match(set.out, /'success': True/);
    const raw = JSON.parse((await vast.legacy(['show', 'user', '--raw'], ann.key)).out) as Record<string, unknown>;
    assert.equal(raw.fullname, 'Ann Example');
    assert.equal(raw.email, 'ann@example.org');
    assert.equal(raw.ssh_key, SSH_KEY, 'added to the account');
    assert.equal(raw.api_key, undefined);

    const refused = await vast.vastai(
      ['set', 'user', '--file', file('billing.json', { fullname: 'X', paypal_email: 'p@x.io', balance_threshold: '5' })],
      ann.key,
    );
    assert.match(refused.out, /Failed with error 400: Gantry does not keep or change paypal_email, balance_threshold/);
    assert.equal((await g.api('GET', '/api/v0/users/current/', undefined, { key: ann.key })).body.fullname, 'Ann Example', 'nothing changed');
    const sdk = await vast.sdk(`from vastai import VastAI\nprint(VastAI(api_key=${JSON.stringify(ann.key)}, server_url=URL).show_user()["fullname"])`);
    assert.match(sdk.out, /^Ann Example$/m);
  });

  it('API keys: create, show one, list, reset (the old secret stops working), delete; set api-key stays local', async () => {
    const perms = file('keys.json', { api: { user_read: {}, user_write: {} } });
    const created = await vast.legacy(['create', 'api-key', '--name', 'ci', '--permission_file', perms], ann.key);
    assert.match(created.out, /api-key created/);
    const id = field(created.out, 'id');
    const oldKey = field(created.out, 'key');
    assert.match((await vast.vastai(['show', 'api-key', id], ann.key)).out, /'name': 'ci'/);
    assert.match((await vast.legacy(['show', 'api-keys'], ann.key)).out, /'name': 'ci'/);

    const reset = await vast.vastai(['reset', 'api-key'], oldKey);
    const newKey = /New api-key: (\S+)/.exec(reset.out)?.[1];
    assert.ok(newKey !== undefined, reset.out);
    assert.match((await vast.legacy(['show', 'user'], oldKey)).out, /Failed with error 401/);
    assert.match((await vast.legacy(['show', 'user'], newKey)).out, /ann@example/);
    assert.match((await vast.vastai(['show', 'api-key', id], ann.key)).out, /'name': 'ci'/, 'same id, name and permissions');
    // The legacy CLI prints no key; the reset happened all the same.
    assert.match((await vast.legacy(['reset', 'api-key'], newKey)).out, /api-key reset/);
    assert.match((await vast.legacy(['show', 'user'], newKey)).out, /Failed with error 401/);

    assert.match((await vast.legacy(['delete', 'api-key', id], ann.key)).out, /'success': True/);
    assert.match((await vast.vastai(['show', 'api-key', id], ann.key)).out, /Failed with error 404: No API key with id/);

    const saved = await vast.legacy(['set', 'api-key', ann.key]);
    const path = /saved in (\S+)/.exec(saved.out)?.[1];
    assert.ok(path !== undefined, saved.out);
    assert.equal(readFileSync(path, 'utf8'), ann.key);
    assert.match((await vast.vastai(['show', 'user'], ann.key)).out, /ann@example/, 'clients still work after it');
  });

  it('teams: create, roles by name and by id (owner built in), invite by query, members, remove, destroy', async () => {
    const made = await vast.vastai(['create', 'team', '--team-name', 'crew'], ann.key);
    const team = field(made.out, 'api_key');
    for (const cli of both()) {
      assert.match((await cli(['show', 'team-roles'], team)).out, /'name': 'owner'/);
      assert.match((await cli(['show', 'team-role', 'owner'], team)).out, /"name": "owner"/);
    }
    const viewer = await vast.legacy(['create', 'team-role', '--name', 'viewer', '--permissions', file('r1.json', { api: { instance_read: {} } })], team);
    const roleId = field(viewer.out, 'id');
    const updated = await vast.vastai(
      ['update', 'team-role', roleId, '--name', 'viewer', '--permissions', file('r2.json', { api: { instance_read: {}, user_read: {} } })],
      team,
    );
    assert.match(updated.out, /Role viewer updated/);
    assert.match((await vast.legacy(['show', 'team-role', 'viewer'], team)).out, /"user_read"/);

    assert.match(
      (await vast.legacy(['invite', 'member', '--email', 'bob@example.com', '--role', 'viewer'], team)).out,
      /successfully invited bob@example\.com/,
    );
    const members = (await vast.vastai(['show', 'members'], team)).out;
    assert.match(members, /'username': 'bob'.*'roles': \['viewer'\]/);
    const bobId = /'id': (\d+), 'username': 'bob'/.exec(members)?.[1] as string;
    assert.match((await vast.vastai(['remove', 'team-role', 'viewer'], team)).out, /Failed with error 409: Members hold the role/);
    assert.match((await vast.legacy(['remove', 'member', bobId], team)).out, /success/);
    assert.match((await vast.vastai(['remove', 'team-role', 'viewer'], team)).out, /Role removed/);
    assert.match((await vast.legacy(['remove', 'team-role', 'owner'], team)).out, /Failed with error 400: "owner" is built in/);
    const sdk = await vast.sdk(
      `from vastai import VastAI\nprint([r["name"] for r in VastAI(api_key=${JSON.stringify(team)}, server_url=URL).show_team_roles()])`,
    );
    assert.match(sdk.out, /\['owner'\]/);
    assert.match((await vast.legacy(['destroy', 'team'], team)).out, /Team deleted/);
  });

  it('subaccounts, credit transfers, earnings, invoices (v0 and search), addresses, connections, audit', async () => {
    const sub = await vast.legacy(['create', 'subaccount', '--email', 'kid@example.com', '--username', 'kid', '--password', 'pw', '--type', 'host'], ann.key);
    assert.match(sub.out, /'username': 'kid'/);
    assert.match((await vast.vastai(['show', 'subaccounts', '--raw'], ann.key)).out, /"username": "kid"/);
    assert.match((await vast.legacy(['transfer', 'credit', 'ann@example.org', '1.5', '--skip'])).out, /Sent 1.5 to ann@example.org/);

    for (const cli of both()) {
      const earned = JSON.parse((await cli(['show', 'earnings', '--raw'], ann.key)).out) as Record<string, unknown>;
      assert.ok(Array.isArray(earned.per_machine) && Array.isArray(earned.per_day), JSON.stringify(earned));
      const invoices = await cli(['show', 'invoices'], ann.key);
      assert.match(invoices.out, /Credit_deposit/);
      assert.match(invoices.out, /Current: +\{'charges': 0/);
    }
    const credits = JSON.parse((await vast.legacy(['show', 'invoices', '-p', '--raw'], ann.key)).out) as { type: string; amount: number }[];
    assert.deepEqual(
      credits.map((r) => [r.type, r.amount]),
      [
        ['payment', -5],
        ['payment', -1.5],
      ],
    );
    const found = JSON.parse((await vast.vastai(['search', 'invoices', 'amount_cents>200', '--raw'], ann.key)).out) as { amount_cents: number }[];
    assert.deepEqual(
      found.map((r) => r.amount_cents),
      [500],
    );
    assert.match((await vast.legacy(['show', 'ipaddrs'], ann.key)).out, /127\.0\.0\.1/);
    const connections = await vast.vastai(['show', 'connections'], ann.key);
    assert.match(connections.out, /Cloud Type/);
    assert.doesNotMatch(connections.out, /Failed/);
    assert.match((await vast.legacy(['show', 'audit-logs'], ann.key)).out, /\/api\/v0\/users/);
  });

  it('env vars and SSH keys through both clients', async () => {
    assert.match((await vast.legacy(['create', 'env-var', 'TOKEN', 'one'], ann.key)).out, /TOKEN added/);
    assert.match((await vast.vastai(['update', 'env-var', 'TOKEN', 'two'], ann.key)).out, /TOKEN updated/);
    assert.match((await vast.vastai(['show', 'env-vars', '-s'], ann.key)).out, /Name: TOKEN\nValue: two/);
    assert.match((await vast.legacy(['delete', 'env-var', 'TOKEN'], ann.key)).out, /deleted/);
    assert.match((await vast.legacy(['show', 'env-vars'], ann.key)).out, /No environment variables found/);

    const key = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGantryAccountsCompat00000000000000000000000 ann@laptop';
    const made = await vast.vastai(['create', 'ssh-key', key], ann.key);
    const id = field(made.out, 'id');
    assert.match((await vast.legacy(['show', 'ssh-keys'], ann.key)).out, /ann@laptop/);
    assert.match((await vast.legacy(['update', 'ssh-key', id, key.replace('laptop', 'desk')], ann.key)).out, /ann@desk/);
    assert.match((await vast.vastai(['delete', 'ssh-key', id], ann.key)).out, /'success': True/);
    assert.doesNotMatch((await vast.vastai(['show', 'ssh-keys'], ann.key)).out, /ann@desk/);
  });

  it('scheduled jobs: none kept (an empty list, a clear 404); every 2FA verb refused with the reason', async () => {
    for (const cli of both()) {
      const jobs = await cli(['show', 'scheduled-jobs'], ann.key);
      assert.match(jobs.out, /Scheduled Job ID/);
      assert.doesNotMatch(jobs.out, /Failed/);
      assert.match((await cli(['delete', 'scheduled-job', '7'], ann.key)).out, /Failed with error 404: No scheduled job with id 7: Gantry keeps none/);
    }
    const tfa = [
      ['tfa', 'status'],
      ['tfa', 'login', '--code', '123456'],
      ['tfa', 'send-sms', '--phone-number', '+15550100'],
      ['tfa', 'activate', '123456', '--secret', 's'],
    ];
    for (const args of tfa) {
      const r = await vast.legacy(args, ann.key);
      assert.match(r.out, /Two-factor authentication is not supported: Gantry uses API keys/, `${args.join(' ')}: ${r.out}`);
    }
    const sdk = await vast.sdk(
      [
        'from vastai import VastAI',
        `v = VastAI(api_key=${JSON.stringify(ann.key)}, server_url=URL)`,
        'print("jobs", v.show_scheduled_jobs(), "connections", v.show_connections(), "ips", [r["ip"] for r in v.show_ipaddrs()])',
        'try:',
        '    v.tfa_status()',
        'except Exception as e:',
        '    print("tfa", e.response.status_code, e.response.json()["msg"])',
      ].join('\n'),
    );
    assert.match(sdk.out, /jobs \[\] connections \[\] ips \['127\.0\.0\.1'\]/);
    assert.match(sdk.out, /tfa 400 Two-factor authentication is not supported/);
    for (const args of tfa.slice(0, 2)) {
      const r = await vast.vastai(args, 'no-key-at-all');
      assert.match(r.out, /Two-factor authentication is not supported: Gantry uses API keys/, `${args.join(' ')}: ${r.out}`);
    }
  });
});
