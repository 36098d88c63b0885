import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { gantry } from '../helpers/cli.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

const SSH_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGantryTestKeyForAuthorizedKeysOnly000000000 alice@laptop';

/** Users, keys and permissions, env vars, SSH keys, teams and the audit log through the Vast API and the CLI. */
for (const ts of TEST_STORES) {
  describe(`accounts, keys, secrets and SSH (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let alice: { id: number; key: string };
    const as = (key: string) => (method: string, path: string, body?: unknown) => g.api(method, path, body, { key });

    before(async () => {
      g = await startTestGantry(ts);
      const env = { ...process.env, GANTRY_URL: g.url, GANTRY_API_KEY: g.adminKey as string };
      const r = await gantry(['create', 'user', 'alice', '--raw', '--credit', '5'], env);
      assert.equal(r.code, 0, r.stderr);
      const out = JSON.parse(r.stdout) as { id: number; api_key: string };
      assert.deepEqual(Object.keys(out).sort(), ['api_key', 'id']);
      alice = { id: out.id, key: out.api_key };
    });
    after(() => g.dispose());

    it('gantry create user prints the id and a working key; the plain key is stored only hashed', async () => {
      const me = await as(alice.key)('GET', '/api/v0/users/current/');
      assert.equal(me.status, 200);
      assert.equal(me.body.id, alice.id);
      assert.equal(me.body.username, 'alice');
      assert.equal(me.body.credit, 5);
      const plain = await gantry(['create', 'user', 'bob'], { ...process.env, GANTRY_URL: g.url, GANTRY_API_KEY: g.adminKey as string });
      assert.match(plain.stdout, /Created user bob with id \d+\.\nAPI key \(shown once\): gnt_/);
      if (ts.name === 'sqlite') assert.ok(!(await readFile(join(g.dataDir, 'gantry.db'))).includes(Buffer.from(alice.key)), 'no plain key in the database');
    });

    it('only an admin creates top-level users; anyone creates subaccounts; a taken name is 409', async () => {
      const top = await as(alice.key)('POST', '/api/v0/users/', { username: 'carol', email: 'c@example.com', password: 'x' });
      assert.equal(top.status, 403);
      // parent_id names the caller ("me", or its own id): another account's is refused, not read as "me".
      const other = await as(alice.key)('POST', '/api/v0/users/', { username: 'alice-x', email: 'x@example.com', password: 'x', parent_id: '1' });
      assert.equal(other.status, 400, other.text);
      assert.equal(other.body.code, 'INVALID_ARGUMENT');
      const sub = await as(alice.key)('POST', '/api/v0/users/', { username: 'alice-ci', email: 'ci@example.com', password: 'x', parent_id: 'me' });
      assert.equal(sub.status, 200, sub.text);
      assert.equal(typeof sub.body.key_id, 'number');
      const list = await as(alice.key)('GET', '/api/v0/subaccounts/');
      assert.deepEqual(
        list.body.users.map((u: { id: number; parent_id: number }) => [u.id, u.parent_id]),
        [[sub.body.id, alice.id]],
      );
      const again = await g.api('POST', '/api/v0/users/', { username: 'alice', email: 'other@example.com' });
      assert.equal(again.status, 409);
      assert.equal(again.body.error, 'user_exists');
      assert.equal((await g.api('POST', '/api/v0/users/', { username: 'bad name!' })).status, 400);
    });

    it('API keys: shown once, listed without the key, scoped by permission JSON, revocable', async () => {
      const ro = await as(alice.key)('POST', '/api/v0/auth/apikeys/', { name: 'read-only', permissions: { api: { instance_read: {}, user_read: {} } } });
      assert.equal(ro.status, 200, ro.text);
      assert.match(ro.body.key, /^gnt_/);
      const list = await as(alice.key)('GET', '/api/v0/auth/apikeys/');
      const row = list.body.apikeys.find((k: { id: number }) => k.id === ro.body.id);
      assert.equal(row.name, 'read-only');
      assert.ok(!list.text.includes(ro.body.key), 'the listing never shows a key');
      assert.deepEqual(JSON.parse(row.rights), { api: { instance_read: {}, user_read: {} } });

      assert.equal((await as(ro.body.key)('GET', '/api/v0/instances/')).status, 200);
      const denied = await as(ro.body.key)('PUT', `/api/v0/asks/${(await g.api('GET', '/api/v0/machines/')).body.machines[0].id * 1000 + 1}/`, { image: 'x' });
      assert.equal(denied.status, 403);
      assert.equal(denied.body.error, 'missing_permissions');
      assert.equal(denied.body.msg, 'This API key lacks the instance_write permission, needed to create instances.');
      const search = await as(ro.body.key)('POST', '/api/v0/bundles/', {});
      assert.equal(search.status, 403, 'search needs misc');
      assert.equal(search.body.msg, 'This API key lacks the misc permission, needed to search offers.', 'the category alone says little');
      const escalate = await as(ro.body.key)('POST', '/api/v0/auth/apikeys/', { name: 'more', permissions: { api: { instance_write: {} } } });
      assert.equal(escalate.status, 403, 'a key cannot grant what it lacks (and lacks user_write)');
      const bad = await as(alice.key)('POST', '/api/v0/auth/apikeys/', { name: 'x', permissions: { api: { everything: {} } } });
      assert.equal(bad.status, 400);
      assert.equal(bad.body.error, 'invalid_permissions');

      assert.equal((await as(alice.key)('DELETE', `/api/v0/auth/apikeys/${ro.body.id}/`)).status, 200);
      assert.equal((await as(ro.body.key)('GET', '/api/v0/instances/')).status, 401, 'a revoked key stops working at once');
      assert.equal((await as(alice.key)('DELETE', `/api/v0/auth/apikeys/${ro.body.id}/`)).status, 404);
    });

    it('constraints narrow a key to one instance id', async () => {
      const a = as(alice.key);
      const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const i1 = (await a('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh', target_state: 'stopped' })).body
        .new_contract;
      const i2 = (await a('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh', target_state: 'stopped' })).body
        .new_contract;
      const k = await a('POST', '/api/v0/auth/apikeys/', {
        name: 'one',
        permissions: { api: { instance_read: { 'api.instance.show': { constraints: { id: { eq: i1 } } } } } },
      });
      assert.equal(k.status, 200, k.text);
      assert.equal((await as(k.body.key)('GET', `/api/v0/instances/${i1}/`)).status, 200);
      assert.equal((await as(k.body.key)('GET', `/api/v0/instances/${i2}/`)).status, 403);
      for (const id of [i1, i2]) assert.equal((await a('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    });

    it('env vars: sealed at rest, shown to their owner only, injected into instances', async () => {
      const a = as(alice.key);
      assert.equal((await a('POST', '/api/v0/secrets/', { key: 'hf_token', value: 'tok-PLAINTEXT-4711' })).status, 200);
      const dup = await a('POST', '/api/v0/secrets/', { key: 'HF_TOKEN', value: 'x' });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error, 'existing_key');
      assert.deepEqual((await a('GET', '/api/v0/secrets/')).body.secrets, { HF_TOKEN: 'tok-PLAINTEXT-4711' });
      assert.deepEqual((await g.api('GET', '/api/v0/secrets/')).body.secrets, {}, 'another account sees none of them');
      if (ts.name === 'sqlite') {
        const db = await readFile(join(g.dataDir, 'gantry.db'));
        assert.ok(!db.includes(Buffer.from('tok-PLAINTEXT-4711')), 'no plain value in the database file');
      }
      const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const id = (await a('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'echo "token=$HF_TOKEN"; sleep 300', runtype: 'ssh' })).body
        .new_contract;
      await g.waitInstance(id, (x) => x.actual_status === 'running', 20_000, alice.key);
      let logs = '';
      for (let i = 0; i < 600 && !logs.includes('token='); i++) {
        logs = await readFile(join(g.dataDir, 'instances', String(id), 'meta', 'out', 'output.log'), 'utf8').catch(() => '');
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.match(logs, /token=tok-PLAINTEXT-4711/);

      assert.equal((await a('PUT', '/api/v0/secrets/', { key: 'HF_TOKEN', value: 'v2' })).status, 200);
      assert.equal((await a('PUT', '/api/v0/secrets/', { key: 'NOPE', value: 'v2' })).status, 404);
      assert.equal((await a('DELETE', '/api/v0/secrets/', { key: 'HF_TOKEN' })).status, 200);
      assert.equal((await a('DELETE', '/api/v0/secrets/', { key: 'HF_TOKEN' })).status, 404);

      // SSH: attach writes authorized_keys on the instance's disk; detach removes the line.
      const keysFile = join(g.dataDir, 'instances', String(id), 'disk', '.ssh', 'authorized_keys');
      const att = await a('POST', `/api/v0/instances/${id}/ssh/`, { ssh_key: SSH_KEY });
      assert.equal(att.status, 200, att.text);
      assert.equal(await readFile(keysFile, 'utf8'), SSH_KEY + '\n');
      const shown = await a('GET', `/api/v0/instances/${id}/ssh/`);
      assert.equal(shown.body.ssh_keys, SSH_KEY);
      const mine = await a('GET', '/api/v0/ssh/');
      assert.deepEqual(
        mine.body.map((k: { id: number; key: string }) => k.key),
        [SSH_KEY],
      );
      assert.equal((await a('POST', `/api/v0/instances/${id}/ssh/`, { ssh_key: 'not a key' })).status, 400);
      // Shaped as a key line but no key: data that is not base64, too short to name its type, or of another type.
      for (const bad of [
        'ssh-ed25519 garbage',
        'ssh-ed25519 AAAA',
        'ssh-ed25519 AAAAC3NzaC1yc2EAAAA= x',
        SSH_KEY.replace('AAAAC3NzaC1lZDI1NTE5', 'AAAAB3NzaC1yc2EAAAAD'),
      ]) {
        for (const [method, path] of [
          ['POST', `/api/v0/instances/${id}/ssh/`],
          ['POST', '/api/v0/ssh/'],
        ]) {
          const r = await a(method as string, path as string, { ssh_key: bad });
          assert.deepEqual([r.status, r.body.success, r.body.error], [400, false, 'invalid_ssh_key'], `${path} ${bad}: ${r.text}`);
        }
      }
      assert.equal(await readFile(keysFile, 'utf8'), SSH_KEY + '\n', 'nothing more written');
      assert.equal((await a('GET', '/api/v0/ssh/')).body.length, 1);
      assert.equal((await a('DELETE', `/api/v0/instances/${id}/ssh/${att.body.key_id}/`)).status, 200);
      assert.equal(await readFile(keysFile, 'utf8'), '');
      assert.equal((await a('DELETE', `/api/v0/instances/${id}/ssh/${att.body.key_id}/`)).status, 404);
      assert.equal((await a('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    });

    it('teams: a role narrows a member key at once; removing the member revokes it', async () => {
      const team = await as(alice.key)('POST', '/api/v0/team/', { team_name: 'alice-lab' });
      assert.equal(team.status, 200, team.text);
      const owner = as(team.body.api_key as string);
      assert.equal((await owner('POST', '/api/v0/team/roles/', { name: 'viewer', permissions: { api: { instance_read: {} } } })).status, 200);
      const bob = (await g.api('POST', '/api/v0/users/', { username: 'bobby', email: 'bobby@example.com' })).body;
      assert.equal((await owner('POST', '/api/v0/team/invite/', { email: 'bobby@example.com', role: 'viewer' })).status, 200);
      // By email only: a username would have the member list tell the inviter that person's email.
      assert.equal((await g.api('POST', '/api/v0/users/', { username: 'carol-t', email: 'carol-t@example.com' })).status, 200);
      assert.equal((await owner('POST', '/api/v0/team/invite/', { email: 'carol-t', role: 'viewer' })).status, 404);
      const members = await owner('GET', '/api/v0/team/members/');
      assert.deepEqual(
        members.body.map((m: { username: string; roles: string[] }) => [m.username, m.roles[0]]),
        [
          ['alice', 'owner'],
          ['bobby', 'viewer'],
        ],
      );
      const bk = await as(bob.api_key)('POST', '/api/v0/auth/apikeys/', { name: 'lab', team_id: team.body.team_id });
      assert.equal(bk.status, 200, bk.text);
      const member = as(bk.body.key);
      assert.equal((await member('GET', '/api/v0/instances/')).status, 200);
      assert.equal((await member('POST', '/api/v0/team/roles/', { name: 'x', permissions: { api: {} } })).status, 403);
      assert.equal((await owner('PUT', '/api/v0/team/roles/viewer/', { name: 'viewer', permissions: { api: { user_read: {} } } })).status, 200);
      assert.equal((await member('GET', '/api/v0/instances/')).status, 403, 'the role change applies to the next call');
      // A team key reaches its team's keys of the person, not the person's own ones (which the personal key lists too).
      const teamKeys = (await member('GET', '/api/v0/auth/apikeys/')).body.apikeys as { id: number; team_id: number | null }[];
      assert.deepEqual(
        teamKeys.map((k) => [k.id, k.team_id]),
        [[bk.body.id, team.body.team_id]],
      );
      const personal = (await as(bob.api_key)('GET', '/api/v0/auth/apikeys/')).body.apikeys as { id: number; team_id: number | null }[];
      assert.ok(personal.length >= 2 && personal.some((k) => k.team_id === null));
      const personalId = personal.find((k) => k.team_id === null)?.id as number;
      assert.equal((await member('GET', `/api/v0/auth/apikeys/${personalId}/`)).status, 404);
      await owner('PUT', '/api/v0/team/roles/viewer/', { name: 'viewer', permissions: { api: { user_read: {}, user_write: {} } } });
      assert.equal((await member('DELETE', `/api/v0/auth/apikeys/${personalId}/`)).status, 404, "a team key does not revoke its holder's own keys");
      // Nor does it make a key for another of its holder's teams.
      const other = await as(bob.api_key)('POST', '/api/v0/team/', { team_name: 'bobby-own' });
      assert.equal(other.status, 200, other.text);
      const pivot = await member('POST', '/api/v0/auth/apikeys/', { name: 'pivot', team_id: other.body.team_id });
      assert.equal(pivot.status, 403, pivot.text);
      assert.equal((await as(bob.api_key)('GET', '/api/v0/users/current/')).status, 200);
      assert.equal((await owner('DELETE', `/api/v0/team/members/${bob.id}/`)).status, 200);
      assert.equal((await member('GET', '/api/v0/users/current/')).status, 401);
      assert.equal((await as(alice.key)('GET', '/api/v0/team/members/')).status, 404, 'a personal key does not act for the team');
    });

    it('the audit log lists every state-changing call of the account, with its result', async () => {
      const rows = (await as(alice.key)('GET', '/api/v0/audit_logs/?limit=200')).body as {
        method: string;
        api_route: string;
        status_code: number;
        user_id: number;
      }[];
      assert.ok(rows.some((r) => r.method === 'POST' && r.api_route === '/api/v0/secrets' && r.status_code === 200));
      assert.ok(
        rows.some((r) => r.method === 'POST' && r.api_route === '/api/v0/secrets' && r.status_code === 409),
        'failures are recorded too',
      );
      assert.ok(rows.some((r) => r.method === 'DELETE' && r.api_route === '/api/v0/auth/apikeys/:id'));
      assert.ok(!rows.some((r) => r.method === 'GET'), 'reads are not audited');
      const subUser = rows.find((r) => r.api_route === '/api/v0/users' && r.user_id === alice.id);
      assert.ok(subUser !== undefined);
      const adminRows = (await g.api('GET', '/api/v0/audit_logs/')).body as { user_id: number }[];
      assert.ok(!adminRows.some((r) => r.user_id === alice.id), "another account's entries are not listed");
    });
  });
}
