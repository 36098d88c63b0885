import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type ApiResponse, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';
import { assertNothingOfAChanged, MARK, snapshotOfA, probedRoutes, setUpTenantA, type Call, type ProbedRoute, type TenantA } from '../helpers/tenant-a.js';

/**
 * Tenant A's OWN restricted keys probe every route the app serves, with A's own ids (the cross-tenant
 * probe does the same as tenant B). Every route inside the permission model refuses what the key does
 * not hold with 403 and the code of the rule (PERMISSION_MISSING for a scope the key lacks, FORBIDDEN
 * for an instance key outside its instance); what the key holds succeeds; nothing of A changes; no 5xx.
 * Admin-only calls check the scope before the admin flag, so they too answer PERMISSION_MISSING here.
 *
 * Exceptions, named here rather than weakening the assertion:
 * - BULK: the bulk instance calls answer 200 with one result per id, each refused item carrying the
 *   refusal's code (one item's refusal does not undo the others); the probe checks every item was refused.
 *   AI Core's bulk deployment change likewise answers 202 with each item's own error (`error.code`).
 * - INSTANCE_READS: the per-instance reads that `instance_read` covers, besides GET of the instance:
 *   the SSH keys attached to it ('instance.ssh-keys'), its (always zero) deposit, and its logs
 *   (Vast's CLI asks for them with PUT, which writes nothing of A's: a result token for the caller).
 *   An instance key may do the same but for the SSH keys ('instance.ssh-keys' is not an instance key's).
 * The routes outside the permission model (health, metrics, the agent and worker protocols, the
 * signing key, result downloads, GPU names) are not probed; the bodies are complete, so no call is
 * stopped by the dialect's validation before the engine's check.
 */

const BULK = new Set(['PUT /api/v0/instances', 'DELETE /api/v0/instances']);
const INSTANCE_READS = new Set([
  'GET /api/v0/instances/:id',
  'GET /api/v0/instances/:id/ssh',
  'GET /api/v0/instances/balance/:id',
  'PUT /api/v0/instances/request_logs/:id',
]);
/** What an instance key may do: read its instance (not the SSH keys attached to it), list (only its own instance), change it in bulk (probed with a no-op start). */
const INSTANCE_KEY_MAY = new Set([
  'GET /api/v0/instances/:id',
  'GET /api/v0/instances/balance/:id',
  'PUT /api/v0/instances/request_logs/:id',
  'GET /api/v0/instances',
  'GET /api/v1/instances',
  'PUT /api/v0/instances',
]);
/** Destroying: the instance key's probe leaves these to the last test, on its own instance. */
const DESTROYS = new Set(['DELETE /api/v0/instances/:id', 'DELETE /api/v0/instances']);

/** What a route should answer a key: success, or a refusal with this code. */
type Expect = 'ok' | 'PERMISSION_MISSING' | 'FORBIDDEN';

function mismatch(r: ProbedRoute, res: ApiResponse, want: Expect): string | null {
  const where = `${r.method} ${r.path} → ${res.status}: ${res.text.slice(0, 200)}`;
  if (res.status >= 500) return `5xx: ${where}`;
  if (want === 'ok') return res.status === 200 ? null : `want 200: ${where}`;
  if (BULK.has(r.route)) {
    const results = (res.body?.results ?? []) as { success: boolean; error?: string }[];
    const allRefused = res.status === 200 && res.body.success === false && results.length > 0 && results.every((x) => !x.success && x.error === want);
    return allRefused ? null : `want every item refused with ${want}: ${where}`;
  }
  // Vast's body carries `code`; AI Core's `error.code`.
  return res.status === 403 && (res.body?.code ?? res.body?.error?.code) === want ? null : `want 403 ${want}: ${where}`;
}

/** Call every route with `call`; answer what differed from `expect` and where A's data showed up though `mayShowA` did not allow it. */
async function probe(call: Call, routes: readonly ProbedRoute[], expect: (r: ProbedRoute) => Expect, mayShowA: ReadonlySet<string>): Promise<string[]> {
  const problems: string[] = [];
  for (const r of routes) {
    const res = await call(r.method, r.path, r.body);
    const m = mismatch(r, res, expect(r));
    if (m !== null) problems.push(m);
    if (res.text.includes(MARK) && !mayShowA.has(r.route)) problems.push(`A's data: ${r.method} ${r.path} → ${res.text.slice(0, 200)}`);
  }
  return problems;
}

/** A permission rule for one id. */
const only = (id: unknown) => ({ constraints: { id: { eq: id } } });

for (const ts of TEST_STORES) {
  describe(`A's own restricted keys probe every route (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let t: TenantA;
    let own: number;
    /** A second instance of A's, stopped: outside the constrained key's grant and the instance key's instance. */
    let other: number;
    const keys = { none: '', readOne: '', oneDeployment: '', endpointAsDeployment: '', endpointNamed: '', keyAsUser: '', keyNamed: '' };

    before(async () => {
      g = await startTestGantry(ts);
      t = await setUpTenantA(g);
      own = t.ids.instance as number;
      const second = await t.a('PUT', `/api/v0/asks/${(t.ids.machine as number) * 1000 + 1}/`, { image: 'x', onstart: 'sleep 600', target_state: 'stopped' });
      assert.equal(second.status, 200, second.text);
      other = second.body.new_contract;
      const none = await t.a('POST', '/api/v0/auth/apikeys/', { name: 'no scopes', permissions: { api: {} } });
      const readOne = await t.a('POST', '/api/v0/auth/apikeys/', {
        name: 'reads one instance',
        permissions: { api: { instance_read: { read: { constraints: { id: { eq: own } } } } } },
      });
      const oneDeployment = await t.a('POST', '/api/v0/auth/apikeys/', {
        name: 'one deployment',
        permissions: { api: { misc: { d: { constraints: { id: { eq: t.ids.deployment as number } } } } } },
      });
      for (const r of [none, readOne, oneDeployment]) assert.equal(r.status, 200, r.text);
      keys.none = none.body.key;
      keys.readOne = readOne.body.key;
      keys.oneDeployment = oneDeployment.body.key;
      // Keys whose ids are read as another kind than the resource of that number (misc's are deployments', user_read's
      // the account's, unless the action names a kind): made before the baseline, which lists keys.
      const made = async (permissions: unknown): Promise<string> => {
        const r = await t.a('POST', '/api/v0/auth/apikeys/', { name: 'kinds', permissions });
        assert.equal(r.status, 200, r.text);
        return r.body.key as string;
      };
      keys.endpointAsDeployment = await made({ api: { misc: { d: only(t.ids.endpoint) } } });
      keys.endpointNamed = await made({ api: { misc: { endptjobs: only(t.ids.endpoint) } } });
      keys.keyAsUser = await made({ api: { user_read: { r: only(t.ids.key) } } });
      keys.keyNamed = await made({ api: { user_read: { 'api.apikeys.show': only(t.ids.key) } } });
      t.baseline = await snapshotOfA(t.a);
    });
    after(() => g.dispose());

    const nothingChanged = () => assertNothingOfAChanged(t);

    it('a key with no scopes: 403 PERMISSION_MISSING on every route, no data of A', async () => {
      assert.deepEqual(await probe(t.as(keys.none), probedRoutes(g, t.ids), () => 'PERMISSION_MISSING', new Set()), []);
    });
    it("nothing of A's changed (no scopes)", nothingChanged);

    it("instance_read for A's instance only: that instance's reads succeed, everything else 403", async () => {
      const call = t.as(keys.readOne);
      const expect = (r: ProbedRoute): Expect => (INSTANCE_READS.has(r.route) ? 'ok' : 'PERMISSION_MISSING');
      assert.deepEqual(await probe(call, probedRoutes(g, t.ids), expect, INSTANCE_READS), []);
      const shown = await call('GET', `/api/v0/instances/${own}/`);
      assert.equal(shown.body.instances.id, own);
      assert.equal(shown.body.instances.label, `${MARK}-label`);
      // The grant names one id: A's other instance is refused (the listings were refused in the probe).
      const res = await call('GET', `/api/v0/instances/${other}/`);
      assert.equal(res.status, 403, res.text);
      assert.equal(res.body.error, 'missing_permissions');
      assert.equal(res.body.code, 'PERMISSION_MISSING');
      assert.equal(res.body.msg, `This API key lacks the instance_read permission (instance ${other}), needed to read an instance.`);
    });
    it("nothing of A's changed (instance_read for one id)", nothingChanged);

    it('misc for one deployment only: the deployment reads (its endpoint is reached through it), the rest 403', async () => {
      const call = t.as(keys.oneDeployment);
      const dep = t.ids.deployment as number;
      const shown = await call('GET', `/api/v0/deployment/${dep}/`);
      assert.equal(shown.status, 200, shown.text);
      const endpointId = shown.body.deployment.endpoint_id as number;
      assert.notEqual(endpointId, dep, 'the grant names the deployment, not its endpoint');
      for (const [method, path, body] of [
        ['GET', '/api/v0/deployments/', undefined],
        ['GET', '/api/v0/endptjobs/', undefined],
        ['POST', '/get_endpoint_workers/', { id: endpointId }],
      ] as const) {
        const r = await call(method, path, body);
        assert.equal(r.status, 403, `${method} ${path}: ${r.text}`);
      }
    });

    it('an id holds for one kind: a deployment grant numbered like an endpoint, or an account grant numbered like a key, reaches neither', async () => {
      const endpointId = t.ids.endpoint as number;
      const asDeployment = t.as(keys.endpointAsDeployment);
      const refused = await asDeployment('GET', `/api/v0/endptjobs/${endpointId}/`);
      assert.equal(refused.status, 403, refused.text);
      assert.match(refused.body.msg, new RegExp(`\\(endpoint ${endpointId}\\)`));
      assert.equal((await asDeployment('PUT', `/api/v0/endptjobs/${endpointId}/`, { max_workers: 0 })).status, 403);
      assert.equal((await asDeployment('POST', '/get_endpoint_workers/', { id: endpointId })).status, 403);
      // Named as an endpoint (Vast's route name), the same number reaches the endpoint, and still no deployment.
      const asEndpoint = t.as(keys.endpointNamed);
      assert.equal((await asEndpoint('GET', `/api/v0/endptjobs/${endpointId}/`)).status, 200);
      assert.equal((await asEndpoint('GET', `/api/v0/deployment/${endpointId}/`)).status, 403);
      const key = t.ids.key as number;
      assert.equal((await t.as(keys.keyAsUser)('GET', `/api/v0/auth/apikeys/${key}/`)).status, 403);
      assert.equal((await t.as(keys.keyNamed)('GET', `/api/v0/auth/apikeys/${key}/`)).status, 200);
      // A key may not name a kind its category does not hold (refused, so nothing of A's changes).
      const wrong = await t.a('POST', '/api/v0/auth/apikeys/', { name: 'wrong', permissions: { api: { misc: { 'api.instance.show': only(1) } } } });
      assert.equal(wrong.status, 400, wrong.text);
      assert.match(wrong.body.msg, /names instance ids, which misc does not cover/);
    });
    it("nothing of A's changed (misc for one deployment)", nothingChanged);

    it('an instance key: reads its own instance and nothing else; every other route 403 FORBIDDEN', async () => {
      const call = t.as(t.instanceKey);
      // Its own instance is running: the bulk change is probed with a start, which changes nothing.
      const routes = probedRoutes(g, t.ids, { instanceState: 'running' }).filter((r) => !DESTROYS.has(r.route));
      // PUT /api/v0/instances/:id is refused too: the probe's body labels the instance, which an instance key may not.
      const expect = (r: ProbedRoute): Expect => (INSTANCE_KEY_MAY.has(r.route) ? 'ok' : 'FORBIDDEN');
      assert.deepEqual(await probe(call, routes, expect, INSTANCE_KEY_MAY), []);
      for (const list of ['/api/v0/instances/', '/api/v1/instances']) {
        const rows = (await call('GET', list)).body.instances as { id: number }[];
        assert.deepEqual(
          rows.map((x) => x.id),
          [own],
          list,
        );
      }
    });
    it("an instance key: A's other instance is not found", async () => {
      const call = t.as(t.instanceKey);
      for (const [m, body] of [
        ['GET', undefined],
        ['PUT', { state: 'running' }],
        ['DELETE', undefined],
      ] as const) {
        const res = await call(m, `/api/v0/instances/${other}/`, body);
        assert.equal(res.status, 404, `${m}: ${res.text}`);
        assert.equal(res.body.code, 'INSTANCE_NOT_FOUND');
      }
      for (const [m, body] of [
        ['PUT', { ids: [other], state: 'running' }],
        ['DELETE', { instance_ids: [other] }],
      ] as const) {
        const res = await call(m, '/api/v0/instances', body);
        assert.deepEqual(res.body.results, [{ id: other, success: false, error: 'INSTANCE_NOT_FOUND', msg: `No instance with id ${other}.` }]);
      }
      assert.equal((await t.a('GET', `/api/v0/instances/${other}/`)).body.instances.intended_status, 'stopped');
    });
    it("an instance key reads its own instance's logs and no one else's (the README's promise)", async () => {
      const call = t.as(t.instanceKey);
      const own_ = await call('PUT', `/api/v0/instances/request_logs/${own}/`, { tail: '10' });
      assert.equal(own_.status, 200, own_.text);
      const url = new URL(own_.body.result_url as string);
      assert.equal((await g.api('GET', url.pathname, undefined, { key: null })).status, 200);
      const others = await call('PUT', `/api/v0/instances/request_logs/${other}/`, { tail: '10' });
      assert.equal(others.status, 404, others.text);
      assert.equal(others.body.code, 'INSTANCE_NOT_FOUND');
      // Its endpoint's worker logs are not its instance's: refused, and the refusal says what the key may do.
      for (const [path, body] of [
        ['/get_endpoint_logs/', { id: t.ids.endpoint }],
        ['/get_workergroup_logs/', { id: t.ids.workergroup }],
      ] as const) {
        const r = await call('POST', path, body);
        assert.equal(r.status, 403, `${path}: ${r.text}`);
        assert.equal(r.body.code, 'FORBIDDEN');
        assert.match(r.body.msg, /may only read \(its logs too\), stop or destroy its own instance/);
      }
    });
    it("nothing of A's changed (instance key)", nothingChanged);

    it('an instance key stops its own instance, and does not start it again (the owner does)', async () => {
      const call = t.as(t.instanceKey);
      const res = await call('PUT', `/api/v0/instances/${own}/`, { state: 'stopped' });
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.success, true);
      await g.waitInstance(own, (x) => x.actual_status === 'stopped' && x.intended_status === 'stopped', 20_000, t.aliceKey);
      const start = await call('PUT', `/api/v0/instances/${own}/`, { state: 'running' });
      assert.equal(start.status, 403, start.text);
      assert.equal(start.body.code, 'FORBIDDEN');
      assert.equal((await t.a('PUT', `/api/v0/instances/${own}/`, { state: 'running' })).status, 200);
      await g.waitInstance(own, (x) => x.actual_status === 'running' && x.intended_status === 'running', 20_000, t.aliceKey);
    });
    it("nothing of A's changed but the stop and start", nothingChanged);

    it('an instance key destroys its own instance, and then is refused', async () => {
      const call = t.as(t.instanceKey);
      const res = await call('DELETE', `/api/v0/instances/${own}/`);
      assert.equal(res.status, 200, res.text);
      assert.equal(res.body.success, true);
      // Once the reconciler has destroyed it, its key no longer reaches it.
      const deadline = Date.now() + 20_000;
      while ((await t.a('GET', `/api/v0/instances/${own}/`)).status !== 404) {
        assert.ok(Date.now() < deadline, 'the instance was not destroyed');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const again = await call('GET', `/api/v0/instances/${own}/`);
      assert.equal(again.status, 401, again.text);
      assert.equal(again.body.code, 'UNAUTHENTICATED');
      assert.equal((await t.a('GET', `/api/v0/instances/${other}/`)).body.instances.intended_status, 'stopped');
    });
  });
}
