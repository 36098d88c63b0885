import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import postgres from 'pg';
import type { PgChangeFeed } from '../../src/store/dialects/pg-change-feed.js';
import { until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * The principal cache (docs/decisions/014-principal-cache.md): a key that worked a moment ago (so
 * its principal is remembered) is refused on the very next request once it is revoked, reset or
 * narrowed; on PostgreSQL, on another replica too: the change answers once every replica forgot it.
 */

type Call = (method: string, path: string, body?: unknown) => ReturnType<TestGantry['api']>;
const as =
  (g: TestGantry, key: string): Call =>
  (method, path, body) =>
    g.api(method, path, body, { key });

async function newUser(g: TestGantry, username: string): Promise<{ id: number; key: string }> {
  const r = await g.api('POST', '/api/v0/users/', { username, email: `${username}@example.com`, credit: 5 });
  assert.equal(r.status, 200, r.text);
  return { id: r.body.id as number, key: r.body.api_key as string };
}

async function newKey(call: Call, body: Record<string, unknown>): Promise<{ id: number; key: string }> {
  const r = await call('POST', '/api/v0/auth/apikeys/', body);
  assert.equal(r.status, 200, r.text);
  return { id: r.body.id as number, key: r.body.key as string };
}

/** A team of `owner` with a role `viewer` (instances readable) and `member` in it holding a team key. */
async function teamWithMember(g: TestGantry, owner: Call, name: string, member: { id: number; key: string; email: string }) {
  const team = await owner('POST', '/api/v0/team/', { team_name: name });
  assert.equal(team.status, 200, team.text);
  const teamOwner = as(g, team.body.api_key as string);
  assert.equal((await teamOwner('POST', '/api/v0/team/roles/', { name: 'viewer', permissions: { api: { instance_read: {} } } })).status, 200);
  assert.equal((await teamOwner('POST', '/api/v0/team/invite/', { email: member.email, role: 'viewer' })).status, 200);
  const k = await newKey(as(g, member.key), { name: `${name} key`, team_id: team.body.team_id });
  return { teamOwner, memberKey: k.key };
}

for (const ts of TEST_STORES) {
  describe(`principal cache: invalidation on change (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let alice: { id: number; key: string };
    before(async () => {
      g = await startTestGantry(ts, { localHost: false });
      alice = await newUser(g, 'alice');
    });
    after(() => g.dispose());

    it('a revoked key is refused on the very next request', async () => {
      const k = await newKey(as(g, alice.key), { name: 'short-lived' });
      for (let i = 0; i < 3; i++) assert.equal((await as(g, k.key)('GET', '/api/v0/instances/')).status, 200);
      assert.equal((await as(g, alice.key)('DELETE', `/api/v0/auth/apikeys/${k.id}/`)).status, 200);
      assert.equal((await as(g, k.key)('GET', '/api/v0/instances/')).status, 401);
      assert.equal((await as(g, alice.key)('GET', '/api/v0/instances/')).status, 200, "the account's other keys still work");
    });

    it('a reset key: the old secret is refused on the next request, the new one works', async () => {
      const k = await newKey(as(g, alice.key), { name: 'to reset' });
      assert.equal((await as(g, k.key)('GET', '/api/v0/users/current/')).status, 200);
      const r = await as(g, k.key)('PUT', '/api/v0/commands/reset_apikey/', {});
      assert.equal(r.status, 200, r.text);
      assert.equal((await as(g, k.key)('GET', '/api/v0/users/current/')).status, 401);
      assert.equal((await as(g, r.body.new_api_key as string)('GET', '/api/v0/users/current/')).status, 200);
    });

    it('a narrowed team role is refused on the next request; a removed member and a deleted team on the next one', async () => {
      const bob = { ...(await newUser(g, 'bob')), email: 'bob@example.com' };
      const { teamOwner, memberKey } = await teamWithMember(g, as(g, alice.key), 'alice-lab', bob);
      const member = as(g, memberKey);
      assert.equal((await member('GET', '/api/v0/instances/')).status, 200);
      assert.equal((await teamOwner('PUT', '/api/v0/team/roles/viewer/', { name: 'viewer', permissions: { api: { user_read: {} } } })).status, 200);
      assert.equal((await member('GET', '/api/v0/instances/')).status, 403);
      assert.equal((await teamOwner('PUT', '/api/v0/team/roles/viewer/', { name: 'viewer', permissions: { api: { instance_read: {} } } })).status, 200);
      assert.equal((await member('GET', '/api/v0/instances/')).status, 200, 'widened again: the next request sees that too');
      assert.equal((await teamOwner('DELETE', `/api/v0/team/members/${bob.id}/`)).status, 200);
      assert.equal((await member('GET', '/api/v0/instances/')).status, 401);
      assert.equal((await teamOwner('GET', '/api/v0/team/members/')).status, 200);
      assert.equal((await teamOwner('DELETE', '/api/v0/team/')).status, 200);
      assert.equal((await teamOwner('GET', '/api/v0/team/members/')).status, 401, "the deleted team's own key too");
    });

    it("an access token (AI Core) stops working with its key's revocation", async () => {
      const sk = await g.api('POST', '/v2/admin/serviceKeys', {}, { key: alice.key });
      assert.equal(sk.status, 201, sk.text);
      const t = await fetch(`${g.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded' },
        body: new URLSearchParams({ grant_type: 'client_credentials', client_id: sk.body.clientid, client_secret: sk.body.clientsecret }).toString(),
      });
      assert.equal(t.status, 200);
      const token = ((await t.json()) as { access_token: string }).access_token;
      const withToken = as(g, token);
      assert.equal((await withToken('GET', '/v2/admin/resourceGroups')).status, 200);
      assert.equal((await withToken('GET', '/v2/admin/resourceGroups')).status, 200);
      const keyId = Number(/^gantry-(\d+)-/.exec(sk.body.clientid as string)?.[1]);
      assert.equal((await as(g, alice.key)('DELETE', `/api/v0/auth/apikeys/${keyId}/`)).status, 200);
      assert.equal((await withToken('GET', '/v2/admin/resourceGroups')).status, 401);
    });

    it('many unknown keys are refused alike and leave the known ones working', async () => {
      const k = await newKey(as(g, alice.key), { name: 'known' });
      assert.equal((await as(g, k.key)('GET', '/api/v0/instances/')).status, 200);
      const remembered = g.control.ctx.principals.size;
      for (let i = 0; i < 20; i++) assert.equal((await as(g, `gnt_unknown_${i}`)('GET', '/api/v0/instances/')).status, 401);
      assert.equal(g.control.ctx.principals.size, remembered, 'refusals are not remembered');
      assert.equal((await as(g, k.key)('GET', '/api/v0/instances/')).status, 200);
    });
  });
}

const pg = TEST_STORES.find((s) => s.name === 'postgres');
const shared = { adminKey: 'gnt_principal_cache_admin', secret: 'principal-cache-secret' };

describe('principal cache across two replicas on one PostgreSQL', { skip: pg?.skip ?? 'no postgres' }, () => {
  let a: TestGantry;
  let b: TestGantry;
  before(async () => {
    a = await startTestGantry(pg!, { localHost: false, settings: shared });
    b = await startTestGantry(pg!, { database: a.database, localHost: false, settings: shared });
    await Promise.all([a.store.changes.ready(), b.store.changes.ready()]);
  });
  after(async () => {
    await b.dispose();
    await a.dispose();
  });

  /** A key of `user` that replica B remembers (it authenticated there twice). */
  async function keyKnownToB(user: { key: string }, name: string): Promise<{ id: number; key: string }> {
    const k = await newKey(as(a, user.key), { name });
    for (let i = 0; i < 2; i++) assert.equal((await as(b, k.key)('GET', '/api/v0/users/current/')).status, 200);
    return k;
  }

  it('a key revoked through replica A is refused by replica B on the very next request', async () => {
    const carol = await newUser(a, 'carol');
    // Several rounds: before the revocation waited for B, B answered 200 to about 6 in 10 first requests.
    for (let round = 0; round < 5; round++) {
      const k = await keyKnownToB(carol, `used on b ${round}`);
      assert.equal((await as(a, carol.key)('DELETE', `/api/v0/auth/apikeys/${k.id}/`)).status, 200);
      assert.equal((await as(b, k.key)('GET', '/api/v0/users/current/')).status, 401, `round ${round}: B, at once`);
      assert.equal((await as(a, k.key)('GET', '/api/v0/users/current/')).status, 401, 'and on the replica that revoked it');
    }
    assert.equal((await as(b, carol.key)('GET', '/api/v0/instances/')).status, 200, "the account's other keys still work on B");
  });

  it("a key revoked while replica B's listening connection is terminated is refused by B on the very next request", async () => {
    const frank = await newUser(a, 'frank');
    const admin = new postgres.Client({ connectionString: a.database! });
    await admin.connect();
    const bListener = `gantry-feed ${(b.store.changes as PgChangeFeed).origin}`;
    const terminate = () => admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = $1', [bListener]);
    try {
      for (let round = 0; round < 4; round++) {
        await b.store.changes.ready();
        const k = await keyKnownToB(frank, `cut ${round}`);
        const revoke = () => as(a, frank.key)('DELETE', `/api/v0/auth/apikeys/${k.id}/`);
        // Cut just before the revocation, or while it is sent: B may learn of the cut after the NOTIFY went out.
        const [, revoked] = round % 2 === 0 ? [await terminate(), await revoke()] : await Promise.all([terminate(), revoke()]);
        assert.equal(revoked.status, 200, revoked.text);
        assert.equal((await as(b, k.key)('GET', '/api/v0/users/current/')).status, 401, `round ${round}: B, at once`);
      }
      // B listens again and serves the account's other key.
      await until('B listens again', async () => b.store.changes.current(), 15_000);
      assert.equal((await as(b, frank.key)('GET', '/api/v0/users/current/')).status, 200);
    } finally {
      await admin.end();
    }
  });

  it('a team role narrowed through replica A is refused by replica B on the very next request', async () => {
    const dave = await newUser(a, 'dave');
    const erin = { ...(await newUser(a, 'erin')), email: 'erin@example.com' };
    const { teamOwner, memberKey } = await teamWithMember(a, as(a, dave.key), 'dave-lab', erin);
    assert.equal((await as(b, memberKey)('GET', '/api/v0/instances/')).status, 200);
    assert.equal((await teamOwner('PUT', '/api/v0/team/roles/viewer/', { name: 'viewer', permissions: { api: { user_read: {} } } })).status, 200);
    assert.equal((await as(b, memberKey)('GET', '/api/v0/instances/')).status, 403);
  });
});
