import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

const KEY = (who: string) => `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGantryEscalationTestKey${who.padEnd(20, '0')} ${who}@laptop`;

/**
 * A key may not reach, through `team_write` or `user_write`, what it was not given: a team member
 * changes roles and members within their own rights (the owner role is the owners'), and an account
 * SSH key reaches only the running instances the caller may change.
 */
for (const ts of ONE_STORE) {
  describe(`no way around a key's permissions (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    const as = (key: string) => (method: string, path: string, body?: unknown) => g.api(method, path, body, { key });
    const user = async (name: string) =>
      (await g.api('POST', '/api/v0/users/', { username: name, email: `${name}@example.com` })).body as { id: number; api_key: string };

    before(async () => {
      g = await startTestGantry(ts);
    });
    after(() => g.dispose());

    it("a team member with team_write gives no one, themselves included, more than they hold, and leaves the owners' role to owners", async () => {
      const alice = await user('esc-alice');
      const team = await as(alice.api_key)('POST', '/api/v0/team/', { team_name: 'esc-lab' });
      assert.equal(team.status, 200, team.text);
      const owner = as(team.body.api_key as string);
      const manage = { api: { team_read: {}, team_write: {} } };
      const everything = {
        api: { instance_read: {}, instance_write: {}, user_read: {}, user_write: {}, billing_read: {}, billing_write: {}, team_read: {}, team_write: {} },
      };
      for (const [name, permissions] of [
        ['manager', manage],
        ['admin', everything],
        ['viewer', { api: { team_read: {} } }],
      ] as const)
        assert.equal((await owner('POST', '/api/v0/team/roles/', { name, permissions })).status, 200);
      const bob = await user('esc-bob');
      const carol = await user('esc-carol');
      const dave = await user('esc-dave');
      assert.equal((await owner('POST', '/api/v0/team/invite/', { email: 'esc-bob@example.com', role: 'manager' })).status, 200);
      assert.equal((await owner('POST', '/api/v0/team/invite/', { email: 'esc-carol@example.com', role: 'admin' })).status, 200);
      const bk = await as(bob.api_key)('POST', '/api/v0/auth/apikeys/', { name: 'lab', team_id: team.body.team_id });
      assert.equal(bk.status, 200, bk.text);
      const manager = as(bk.body.key as string);
      const refused = async (r: Promise<{ status: number; text: string }>, why: string) => {
        const res = await r;
        assert.equal(res.status, 403, `${why}: ${res.text}`);
        assert.match(res.text, /You may not/);
      };

      await refused(manager('PUT', '/api/v0/team/roles/manager/', { name: 'manager', permissions: everything }), 'raising their own role');
      await refused(manager('POST', '/api/v0/team/roles/', { name: 'wide', permissions: everything }), 'a role above theirs');
      await refused(manager('PUT', '/api/v0/team/roles/admin/', { name: 'admin', permissions: manage }), 'changing a role above theirs');
      await refused(manager('DELETE', '/api/v0/team/roles/admin/'), 'removing a role above theirs');
      await refused(manager('POST', '/api/v0/team/invite/', { email: 'esc-dave@example.com', role: 'owner' }), 'inviting an owner');
      await refused(manager('POST', '/api/v0/team/invite/', { email: 'esc-dave@example.com', role: 'admin' }), 'inviting with a role above theirs');
      await refused(manager('DELETE', `/api/v0/team/members/${alice.id}/`), 'removing the owner');
      await refused(manager('DELETE', `/api/v0/team/members/${carol.id}/`), 'removing a member above them');
      assert.equal((await manager('GET', '/api/v0/instances/')).status, 403, 'still without instance_read');

      // Within their rights, team_write works as before.
      assert.equal((await manager('POST', '/api/v0/team/roles/', { name: 'reader', permissions: { api: { team_read: {} } } })).status, 200);
      assert.equal((await manager('PUT', '/api/v0/team/roles/viewer/', { name: 'viewer', permissions: manage })).status, 200);
      assert.equal((await manager('POST', '/api/v0/team/invite/', { email: 'esc-dave@example.com', role: 'viewer' })).status, 200);
      assert.equal((await manager('DELETE', `/api/v0/team/members/${dave.id}/`)).status, 200);
      const members = (await owner('GET', '/api/v0/team/members/')).body as { username: string; roles: string[] }[];
      assert.deepEqual(members.map((m) => [m.username, m.roles[0]]).sort(), [
        ['esc-alice', 'owner'],
        ['esc-bob', 'manager'],
        ['esc-carol', 'admin'],
      ]);
      // An owner gives the owners' role and takes a member away; a member may always leave.
      assert.equal((await owner('POST', '/api/v0/team/invite/', { email: 'esc-dave@example.com', role: 'owner' })).status, 200);
      assert.equal((await owner('DELETE', `/api/v0/team/members/${carol.id}/`)).status, 200);
      assert.equal((await manager('DELETE', `/api/v0/team/members/${bob.id}/`)).status, 200);
      assert.equal((await manager('GET', '/api/v0/team/members/')).status, 401, 'a member who left holds no key of the team');
    });

    it('an account SSH key goes into the running instances the caller may change, and no other', async () => {
      const erin = await user('esc-erin');
      const credit = await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: String(erin.id), amount: 10 });
      assert.equal(credit.status, 200, credit.text);
      const full = as(erin.api_key);
      const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const rent = async () =>
        (await full('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh', target_state: 'stopped' })).body
          .new_contract as number;
      const [i1, i2] = [await rent(), await rent()];
      assert.ok(i1 !== undefined && i2 !== undefined);
      const keyWith = async (api: Record<string, unknown>) => {
        const k = await full('POST', '/api/v0/auth/apikeys/', { name: 'k', permissions: { api } });
        assert.equal(k.status, 200, k.text);
        return as(k.body.key as string);
      };
      const inInstance = async (id: number) => String((await full('GET', `/api/v0/instances/${id}/ssh/`)).body.ssh_keys ?? '');

      const userOnly = await keyWith({ user_read: {}, user_write: {} });
      const made = await userOnly('POST', '/api/v0/ssh/', { ssh_key: KEY('useronly') });
      assert.equal(made.status, 200, made.text);
      for (const id of [i1, i2]) assert.doesNotMatch(await inInstance(id), /useronly/, `instance ${id} got a key from a key without instance_write`);
      assert.equal((await userOnly('PUT', '/api/v0/users/', { ssh_key: KEY('profile') })).status, 200);
      for (const id of [i1, i2]) assert.doesNotMatch(await inInstance(id), /profile/);

      const oneInstance = await keyWith({
        user_read: {},
        user_write: {},
        instance_write: { 'api.instance.manage': { constraints: { id: { eq: i1 } } } },
      });
      const narrow = await oneInstance('POST', '/api/v0/ssh/', { ssh_key: KEY('narrow') });
      assert.equal(narrow.status, 200, narrow.text);
      assert.match(await inInstance(i1), /narrow/);
      assert.doesNotMatch(await inInstance(i2), /narrow/);

      // A key in an instance the caller may not change keeps its text.
      const wide = await full('POST', '/api/v0/ssh/', { ssh_key: KEY('wide') });
      assert.equal(wide.status, 200, wide.text);
      for (const id of [i1, i2]) assert.match(await inInstance(id), /wide/, 'a key that may change every instance reaches every instance, as Vast does');
      const swap = await oneInstance('PUT', `/api/v0/ssh/${wide.body.key.id}/`, { ssh_key: KEY('swapped') });
      assert.equal(swap.status, 403, swap.text);
      assert.match(await inInstance(i2), /wide/);
      assert.equal(
        (await userOnly('PUT', `/api/v0/ssh/${made.body.key.id}/`, { ssh_key: KEY('stillnone') })).status,
        200,
        "a key in no instance is the account's to change",
      );
      for (const id of [i1, i2]) assert.equal((await full('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    });

    it('an instance key (its host can read it) does not start its instance once stopped; it still stops and destroys it', async () => {
      const fay = await user('esc-fay');
      assert.equal((await g.api('PUT', '/api/v0/commands/transfer_credit/', { recipient: String(fay.id), amount: 10 })).status, 200);
      const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const r = await as(fay.api_key)('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 300', target_state: 'stopped' });
      assert.equal(r.status, 200, r.text);
      const [id, own] = [r.body.new_contract as number, as(r.body.instance_api_key as string)];
      const start = await own('PUT', `/api/v0/instances/${id}/`, { state: 'running' });
      assert.equal(start.status, 403, start.text);
      assert.equal(start.body.error, 'forbidden');
      const bulk = await own('PUT', '/api/v0/instances/', { ids: [id], state: 'running' });
      assert.equal(bulk.body.results?.[0]?.success, false, bulk.text);
      assert.equal((await as(fay.api_key)('GET', `/api/v0/instances/${id}/`)).body.instances.intended_status, 'stopped');
      assert.equal((await own('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
      assert.equal((await own('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    });
  });
}
