import assert from 'node:assert/strict';
import { createHmac } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { ResourceGroupApi } from '@sap-ai-sdk/ai-api';
import type { HttpDestination } from '@sap-cloud-sdk/connectivity';
import { sdkDestination } from '../helpers/aicore.js';
import { gantry } from '../helpers/cli.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * SAP AI Core's OAuth2 client credentials and resource groups: the real `@sap-ai-sdk/ai-api` with a
 * service key from Gantry, plain HTTP with tokens and API keys, and the tokens Gantry must refuse.
 */

const b64 = (o: unknown): string => Buffer.from(JSON.stringify(o)).toString('base64url');
const claimsOf = (jwt: string): Record<string, unknown> => JSON.parse(Buffer.from(jwt.split('.')[1] as string, 'base64url').toString('utf8'));

for (const ts of TEST_STORES) {
  describe(`AI Core auth and resource groups (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    const clock = new ManualClock();
    let alice: { id: number; key: string };
    let bob: { id: number; key: string };
    let serviceKey: Record<string, any>;
    let dest: HttpDestination | undefined;

    const form = (body: Record<string, string>, headers: Record<string, string> = {}) =>
      fetch(`${g.url}/oauth/token`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded;charset=UTF-8', ...headers },
        body: new URLSearchParams(body).toString(),
      });
    const tokenFor = async (sk: Record<string, any>): Promise<string> => {
      const r = await form({ grant_type: 'client_credentials', client_id: sk.clientid, client_secret: sk.clientsecret });
      assert.equal(r.status, 200);
      return ((await r.json()) as { access_token: string }).access_token;
    };
    const bearer = (token: string) => (method: string, path: string, body?: unknown) => g.api(method, path, body, { key: token });

    before(async () => {
      g = await startTestGantry(ts, { clock, localHost: false });
      const mk = async (username: string) => {
        const r = await g.api('POST', '/api/v0/users/', { username, credit: 10 });
        assert.equal(r.status, 200, r.text);
        return { id: r.body.id as number, key: r.body.api_key as string };
      };
      alice = await mk('alice');
      bob = await mk('bob');
      const r = await g.api('POST', '/v2/admin/serviceKeys', { resourceGroup: 'team-a' }, { key: alice.key });
      assert.equal(r.status, 201, r.text);
      serviceKey = r.body;
      dest = await sdkDestination(serviceKey);
    });
    after(() => g.dispose());

    it('a service key holds what AICORE_SERVICE_KEY needs, for a new key of the caller', async () => {
      assert.match(serviceKey.clientid, /^gantry-\d+-[0-9a-f]{8}$/);
      assert.match(serviceKey.clientsecret, /^gnt_/);
      assert.equal(serviceKey.url, g.url);
      assert.equal(serviceKey.serviceurls.AI_API_URL, g.url);
      assert.equal(serviceKey.identityzone, 'gantry');
      assert.equal(serviceKey.resourceGroup, 'team-a');
      // The secret is an API key of Alice's account, listed (and revocable) among her keys.
      const keys = (await g.api('GET', '/api/v0/auth/apikeys/', undefined, { key: alice.key })).body.apikeys as { id: number }[];
      assert.ok(keys.some((k) => String(serviceKey.clientid).startsWith(`gantry-${k.id}-`)));
    });

    it('POST /oauth/token answers a signed JWT for the client credentials, in the body or as Basic', async () => {
      const r = await form({ grant_type: 'client_credentials', client_id: serviceKey.clientid, client_secret: serviceKey.clientsecret });
      assert.equal(r.status, 200);
      assert.equal(r.headers.get('cache-control'), 'no-store');
      const t = (await r.json()) as Record<string, any>;
      assert.equal(t.token_type, 'bearer');
      assert.equal(t.expires_in, 12 * 3600);
      const c = claimsOf(t.access_token);
      assert.equal(c.iss, 'gantry');
      assert.equal(c.sub, serviceKey.clientid);
      assert.equal(c.exp, (c.iat as number) + 12 * 3600);
      assert.equal(c.iat, Math.floor(clock.now() / 1000));
      const basic = Buffer.from(`${serviceKey.clientid}:${serviceKey.clientsecret}`).toString('base64');
      const rb = await form({ grant_type: 'client_credentials' }, { authorization: `Basic ${basic}` });
      assert.equal(rb.status, 200);
      const who = await bearer(((await rb.json()) as { access_token: string }).access_token)('GET', '/v2/admin/resourceGroups/team-a');
      assert.equal(who.status, 200, who.text);
    });

    it('the token endpoint refuses a wrong grant type (400) and bad client credentials (401) in the AI Core body', async () => {
      const wrong = await form({ grant_type: 'password', client_id: serviceKey.clientid, client_secret: serviceKey.clientsecret });
      assert.equal(wrong.status, 400);
      const wb = (await wrong.json()) as any;
      assert.equal(wb.error.code, 'UNSUPPORTED_GRANT_TYPE');
      assert.equal(wb.error.target, '/oauth/token');
      for (const body of [
        { client_id: serviceKey.clientid as string, client_secret: 'gnt_not-the-secret' },
        { client_id: String(serviceKey.clientid).replace(/^gantry-\d+/, 'gantry-999999'), client_secret: serviceKey.clientsecret },
        // The right key id, but another installation's suffix.
        { client_id: String(serviceKey.clientid).replace(/-[0-9a-f]{8}$/, '-00000000'), client_secret: serviceKey.clientsecret },
        // Bob's own key is a valid secret, but not of this client id.
        { client_id: serviceKey.clientid, client_secret: bob.key },
        { client_id: serviceKey.clientid as string },
      ] as Record<string, string>[]) {
        const r = await form({ grant_type: 'client_credentials', ...body });
        assert.equal(r.status, 401, JSON.stringify(body));
        const b = (await r.json()) as any;
        assert.equal(b.error.code, 'UNAUTHENTICATED');
        assert.equal(typeof b.error.message, 'string');
      }
    });

    it('the real SDK creates, reads, lists, relabels and deletes resource groups through the service key', async () => {
      const label = { key: 'ext.ai.sap.com/team', value: 'a' };
      const created = await ResourceGroupApi.kubesubmitV4ResourcegroupsCreate({ resourceGroupId: 'rg-sdk', labels: [label] }).execute(dest);
      assert.deepEqual(created, { resourceGroupId: 'rg-sdk', tenantId: String(alice.id), zoneId: 'gantry' });
      const one = await ResourceGroupApi.kubesubmitV4ResourcegroupsGet('rg-sdk').execute(dest);
      assert.equal(one.status, 'PROVISIONED');
      assert.deepEqual(one.labels, [label]);
      assert.ok(!Number.isNaN(Date.parse(one.createdAt)));
      const all = await ResourceGroupApi.kubesubmitV4ResourcegroupsGetAll({ $count: true }).execute(dest);
      assert.deepEqual(
        all.resources.map((x) => x.resourceGroupId),
        ['default', 'rg-sdk', 'team-a'],
      );
      assert.equal(all.count, 3);
      const sel = await ResourceGroupApi.kubesubmitV4ResourcegroupsGetAll({ labelSelector: ['ext.ai.sap.com/team=a'] }).execute(dest);
      assert.deepEqual(
        sel.resources.map((x) => x.resourceGroupId),
        ['rg-sdk'],
      );
      await ResourceGroupApi.kubesubmitV4ResourcegroupsPatch('rg-sdk', { labels: [{ key: 'ext.ai.sap.com/team', value: 'b' }] }).execute(dest);
      assert.deepEqual((await ResourceGroupApi.kubesubmitV4ResourcegroupsGet('rg-sdk').execute(dest)).labels, [{ key: 'ext.ai.sap.com/team', value: 'b' }]);
      const del = await ResourceGroupApi.kubesubmitV4ResourcegroupsDelete('rg-sdk').execute(dest);
      assert.equal(del.id, 'rg-sdk');
      await assert.rejects(ResourceGroupApi.kubesubmitV4ResourcegroupsGet('rg-sdk').execute(dest), (err: any) => {
        assert.match(String(err.message), /404/);
        assert.equal(err.cause?.response?.data?.error?.code, 'RESOURCE_GROUP_NOT_FOUND');
        return true;
      });
    });

    it('a Gantry API key works as Bearer; list paging, $count and label selectors follow the spec', async () => {
      const a = bearer(alice.key);
      for (const [id, team] of [
        ['p-1', 'x'],
        ['p-2', 'y'],
        ['p-3', 'x'],
      ] as const) {
        const r = await a('POST', '/v2/admin/resourceGroups', { resourceGroupId: id, labels: [{ key: 'ext.ai.sap.com/team', value: team }] });
        assert.equal(r.status, 202, r.text);
      }
      const page = await a('GET', '/v2/admin/resourceGroups?$skip=1&$top=2');
      assert.equal(page.status, 200);
      // Oldest first; this run's clock stands still, so ties go by id.
      assert.deepEqual(
        page.body.resources.map((x: any) => x.resourceGroupId),
        ['p-1', 'p-2'],
      );
      assert.equal(page.body.count, 2, 'without $count=true: the items in the answer');
      assert.equal((await a('GET', '/v2/admin/resourceGroups?$top=1&$count=true')).body.count, 5);
      const not = await a('GET', '/v2/admin/resourceGroups?labelSelector=ext.ai.sap.com/team!=x');
      assert.deepEqual(
        not.body.resources.map((x: any) => x.resourceGroupId),
        ['default', 'p-2', 'team-a'],
      );
      const both = await a('GET', '/v2/admin/resourceGroups?labelSelector=ext.ai.sap.com/team=x&labelSelector=ext.ai.sap.com/team!=y');
      assert.deepEqual(
        both.body.resources.map((x: any) => x.resourceGroupId),
        ['p-1', 'p-3'],
      );
      assert.equal((await a('GET', '/v2/admin/resourceGroups?labelSelector=team')).status, 400);
    });

    it('default always exists and stays; duplicates, bad ids, bad labels and unknown fields are 4xx', async () => {
      const a = bearer(alice.key);
      const d = await a('GET', '/v2/admin/resourceGroups/default');
      assert.equal(d.status, 200);
      assert.equal(d.body.status, 'PROVISIONED');
      const delDefault = await a('DELETE', '/v2/admin/resourceGroups/default');
      assert.equal(delDefault.status, 409);
      assert.equal(delDefault.body.error.code, 'RESOURCE_GROUP_PROTECTED');
      assert.equal((await a('POST', '/v2/admin/resourceGroups', { resourceGroupId: 'default' })).status, 409);
      const dup = await a('POST', '/v2/admin/resourceGroups', { resourceGroupId: 'team-a' });
      assert.equal(dup.status, 409);
      assert.equal(dup.body.error.code, 'RESOURCE_GROUP_EXISTS');
      for (const body of [
        { resourceGroupId: 'x' },
        { resourceGroupId: '-bad-' },
        { resourceGroupId: 'ok-id', labels: [{ key: 'team', value: 'a' }] },
        { resourceGroupId: 'ok-id', extra: 1 },
        {},
      ]) {
        const r = await a('POST', '/v2/admin/resourceGroups', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.ok(typeof r.body.error.message === 'string');
      }
      assert.equal((await a('GET', '/v2/admin/resourceGroups/no.such.group')).status, 404);
      // Labels on default: stored on first use, still listed first.
      assert.equal((await a('PATCH', '/v2/admin/resourceGroups/default', { labels: [{ key: 'ext.ai.sap.com/d', value: '1' }] })).status, 202);
      const sel = await a('GET', '/v2/admin/resourceGroups?labelSelector=ext.ai.sap.com/d=1');
      assert.deepEqual(
        sel.body.resources.map((x: any) => x.resourceGroupId),
        ['default'],
      );
    });

    it("another account's resource group is 404 RESOURCE_GROUP_NOT_FOUND, everywhere", async () => {
      const b = bearer(bob.key);
      for (const [m, body] of [
        ['GET', undefined],
        ['PATCH', { labels: [] }],
        ['DELETE', undefined],
      ] as const) {
        const r = await b(m, '/v2/admin/resourceGroups/team-a', body);
        assert.equal(r.status, 404, `${m}: ${r.text}`);
        assert.equal(r.body.error.code, 'RESOURCE_GROUP_NOT_FOUND');
      }
      const list = await b('GET', '/v2/admin/resourceGroups');
      assert.deepEqual(
        list.body.resources.map((x: any) => x.resourceGroupId),
        ['default'],
      );
      assert.equal((await bearer(alice.key)('GET', '/v2/admin/resourceGroups/team-a')).status, 200);
    });

    it('forged, malformed and unsigned tokens are 401 in the AI Core body', async () => {
      const good = await tokenFor(serviceKey);
      const [h, p] = good.split('.') as [string, string, string];
      const claims = claimsOf(good);
      const otherKey = createHmac('sha256', 'not-the-server-secret').update('x').digest();
      const signed = (payload: unknown, key: Buffer) => {
        const input = `${h}.${b64(payload)}`;
        return `${input}.${createHmac('sha256', key).update(input).digest('base64url')}`;
      };
      const bobKeyId = ((await g.api('GET', '/api/v0/auth/apikeys/', undefined, { key: bob.key })).body.apikeys as { id: number }[])[0]!.id;
      for (const [what, tok] of [
        ['signed with another key', signed(claims, otherKey)],
        [
          "payload changed to Bob's key, signature kept",
          `${h}.${b64({ ...claims, sub: String(claims.sub).replace(/^gantry-\d+/, `gantry-${bobKeyId}`) })}.${good.split('.')[2]}`,
        ],
        ['alg none', `${b64({ alg: 'none', typ: 'JWT' })}.${p}.`],
        ['malformed', 'eyJhbGciOiJIUzI1NiJ9.bm90LWpzb24.c2ln'],
        ['unknown API key', 'gnt_not-a-key'],
      ] as const) {
        const r = await bearer(tok)('GET', '/v2/admin/resourceGroups');
        assert.equal(r.status, 401, what);
        assert.equal(r.body.error.code, 'UNAUTHENTICATED', what);
        assert.equal(r.body.error.target, '/v2/admin/resourceGroups');
      }
      const none = await g.api('GET', '/v2/admin/resourceGroups', undefined, { key: null });
      assert.equal(none.status, 401);
    });

    it('gantry create aicore-key prints a service key whose token works, and makes the group', async () => {
      const env = { ...process.env, GANTRY_URL: g.url, GANTRY_API_KEY: alice.key };
      const r = await gantry(['create', 'aicore-key', '--resource-group', 'cli-rg'], env);
      assert.equal(r.code, 0, r.stderr);
      const sk = JSON.parse(r.stdout);
      assert.equal(sk.resourceGroup, 'cli-rg');
      assert.equal(sk.serviceurls.AI_API_URL, g.url);
      const got = await bearer(await tokenFor(sk))('GET', '/v2/admin/resourceGroups/cli-rg');
      assert.equal(got.status, 200, got.text);
      const plain = await gantry(['create', 'aicore-key'], env);
      assert.equal(plain.code, 0, plain.stderr);
      assert.equal(JSON.parse(plain.stdout).resourceGroup, undefined);
      const bad = await gantry(['create', 'aicore-key', '--resource-group', 'x'], env);
      assert.notEqual(bad.code, 0);
    });

    it("a revoked key's tokens stop working at once", async () => {
      const sk = (await g.api('POST', '/v2/admin/serviceKeys', {}, { key: alice.key })).body;
      const tok = await tokenFor(sk);
      assert.equal((await bearer(tok)('GET', '/v2/admin/resourceGroups')).status, 200);
      const id = Number(/^gantry-(\d+)-/.exec(String(sk.clientid))![1]);
      assert.equal((await g.api('DELETE', `/api/v0/auth/apikeys/${id}/`, undefined, { key: alice.key })).status, 200);
      const r = await bearer(tok)('GET', '/v2/admin/resourceGroups');
      assert.equal(r.status, 401);
      assert.equal((await form({ grant_type: 'client_credentials', client_id: sk.clientid, client_secret: sk.clientsecret })).status, 401);
    });

    // Last: it moves this run's clock past every token issued so far.
    it('a token is refused once expired (accessTokenTtlMs)', async () => {
      const tok = await tokenFor(serviceKey);
      assert.equal((await bearer(tok)('GET', '/v2/admin/resourceGroups')).status, 200);
      clock.advance(12 * 3600 * 1000 - 2000);
      assert.equal((await bearer(tok)('GET', '/v2/admin/resourceGroups')).status, 200);
      clock.advance(3000);
      const r = await bearer(tok)('GET', '/v2/admin/resourceGroups');
      assert.equal(r.status, 401);
      assert.match(r.body.error.message, /expired/);
    });
  });
}
