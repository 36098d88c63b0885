import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { routesOf } from '../../src/api/app.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

const MARK = 'zq7-tenant-a';
const SSH = `ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITenantAOnlyKeyMaterial0000000000000 ${MARK}-laptop`;
/** What B sends: names and keys of its own, so anything carrying MARK in an answer came from A. */
const SSH_B = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAITenantBProbeKeyMaterial00000000000000 b-probe';
const EP = 'a-endpoint-7';
const ROLE = 'a-role-7';
/** Routes outside the tenant model: health, metrics, the agent protocol, worker reports (token-authenticated), the signing key, result downloads. */
const OUTSIDE = /^\/(healthz|metrics|pubkey|worker_status)$|^\/agent\/|^\/api\/v0\/(results\/|gpu_names)/;

/**
 * Tenant B probes every route the app serves with tenant A's ids and names. Each call naming one of A's
 * resources answers 404 (existence is not leaked, never 403); no answer carries A's data; nothing of A's
 * changes; and no probe causes a 5xx.
 */
for (const ts of TEST_STORES) {
  describe(`cross-tenant probe of every route (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let a: (m: string, p: string, b?: unknown) => ReturnType<TestGantry['api']>;
    let b: (m: string, p: string, b?: unknown) => ReturnType<TestGantry['api']>;
    const ids: Record<string, number | string> = {};

    before(async () => {
      g = await startTestGantry(ts);
      const mk = async (name: string) => (await g.api('POST', '/api/v0/users/', { username: name, credit: 100 })).body as { id: number; api_key: string };
      const alice = await mk('alice');
      const bob = await mk('bob');
      a = (m, p, body) => g.api(m, p, body, { key: alice.api_key });
      b = (m, p, body) => g.api(m, p, body, { key: bob.api_key });
      const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const inst = await a('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 600', runtype: 'ssh', label: `${MARK}-label` });
      const ep = await a('POST', '/api/v0/endptjobs/', { endpoint_name: EP, min_load: 0, cold_workers: 0, min_workers: 0, max_workers: 0 });
      const wg = await a('POST', '/api/v0/workergroups/', {
        endpoint_id: ep.body.result,
        image: 'x',
        onstart: 'sleep 1',
        search_params: 'num_gpus=1',
        test_workers: 0,
      });
      const dep = await a('POST', '/api/v0/deployments/', {
        name: `${MARK}-dep`,
        image: 'x',
        onstart: 'sleep 1',
        max_workers: 0,
        min_workers: 0,
        cold_workers: 0,
        min_load: 0,
      });
      const key = await a('POST', '/api/v0/auth/apikeys/', { name: `${MARK}-key` });
      const ssh = await a('POST', '/api/v0/ssh/', { ssh_key: SSH });
      await a('POST', '/api/v0/secrets/', { key: 'A_SECRET', value: `${MARK}-secret` });
      const team = await a('POST', '/api/v0/team/', { team_name: `${MARK}-team` });
      await g.api('POST', '/api/v0/team/roles/', { name: ROLE, permissions: { api: {} } }, { key: team.body.api_key });
      await a('POST', '/api/v0/users/', { username: `${MARK}-sub`, parent_id: 'me' });
      for (const [what, r] of Object.entries({ inst, ep, wg, dep, key, ssh, team })) assert.equal(r.status, 200, `${what}: ${r.text}`);
      Object.assign(ids, {
        instance: inst.body.new_contract,
        machine,
        endpoint: ep.body.result,
        endpointName: EP,
        workergroup: wg.body.id,
        deployment: dep.body.deployment?.id ?? dep.body.deployment_id,
        key: key.body.id,
        ssh: ssh.body.key.id,
        user: alice.id,
        role: ROLE,
      });
      await g.waitInstance(ids.instance as number, (x) => x.actual_status === 'running', 20_000, alice.api_key);
    });
    after(() => g.dispose());

    const idFor = (url: string, param: string): string => {
      if (param === 'keyId') return String(ids.ssh);
      if (param === 'name') return String(url.startsWith('/endpoints/') ? ids.endpointName : ids.role);
      if (url.startsWith('/api/v0/instances')) return String(ids.instance);
      if (url.startsWith('/api/v0/asks')) return String((ids.machine as number) * 1000 + 1);
      if (url.startsWith('/api/v0/machines')) return String(ids.machine);
      if (url.startsWith('/api/v0/endptjobs')) return String(ids.endpoint);
      if (url.startsWith('/api/v0/workergroups') || url.startsWith('/api/v0/autojobs')) return String(ids.workergroup);
      if (url.startsWith('/api/v0/deployment')) return String(ids.deployment);
      if (url.startsWith('/api/v0/auth/apikeys')) return String(ids.key);
      if (url.startsWith('/api/v0/ssh')) return String(ids.ssh);
      return String(ids.user);
    };
    const bodyFor = (method: string, url: string): unknown => {
      if (url === '/route' || url.startsWith('/get_')) return { endpoint: ids.endpointName, id: ids.endpoint, workergroup_id: ids.workergroup, cost: 1 };
      if (url === '/api/v0/instances') return method === 'PUT' ? { ids: [ids.instance], state: 'stopped' } : { instance_ids: [ids.instance] };
      if (url.includes('/ssh')) return { ssh_key: SSH_B };
      if (url === '/api/v0/machines/create_asks') return { machine: ids.machine, price_gpu: 9 };
      if (url === '/api/v0/commands/transfer_credit') return { recipient: 'bob', amount: 1 };
      if (url === '/api/v0/secrets') return { key: 'A_SECRET', value: 'overwritten' };
      if (url.startsWith('/api/v0/deployment/') && url.endsWith('/stop')) return { force: true };
      return {
        state: 'stopped',
        label: 'x',
        name: 'x',
        permissions: { api: {} },
        sdate: Math.floor(Date.now() / 1000) + 3600,
        duration: 1,
        price: 1,
        verified: true,
      };
    };

    it('every route: 404 for what names A, no data of A in any answer, never a 5xx', async () => {
      const routes = routesOf(g.app).filter((r) => !OUTSIDE.test(r.url) && ['GET', 'POST', 'PUT', 'DELETE', 'PATCH'].includes(r.method));
      assert.ok(routes.length > 60, `probing ${routes.length} routes`);
      const leaks: string[] = [];
      for (const r of routes) {
        const params = [...r.url.matchAll(/:(\w+)/g)].map((m) => m[1] as string);
        const path = r.url.replace(/:(\w+)/g, (_m, p: string) => idFor(r.url, p)).replace('*', 'anything');
        const res = await b(r.method, path, r.method === 'GET' ? undefined : bodyFor(r.method, r.url));
        const where = `${r.method} ${path} → ${res.status}`;
        assert.ok(res.status < 500, `${where}: ${res.text}`);
        if (res.text.includes(MARK)) leaks.push(`${where}: ${res.text.slice(0, 200)}`);
        // Admin-only calls answer 403 for every id alike, which tells nothing about A.
        const namesA = params.length > 0 && !r.url.startsWith('/api/v0/asks') && res.body?.code !== 'ADMIN_ONLY';
        if (namesA) assert.equal(res.status, r.url.startsWith('/endpoints/') ? res.status : 404, `${where}: ${res.text}`);
        if (r.url.startsWith('/endpoints/') || r.url === '/route' || r.url.startsWith('/get_'))
          assert.ok(res.status >= 400, `${where} must not serve A's endpoint`);
      }
      assert.deepEqual(leaks, []);
    });

    it("nothing of A's changed", async () => {
      const inst = (await a('GET', `/api/v0/instances/${ids.instance}/`)).body.instances;
      assert.equal(inst.actual_status, 'running');
      assert.equal(inst.label, `${MARK}-label`);
      assert.deepEqual((await a('GET', '/api/v0/secrets/')).body.secrets, { A_SECRET: `${MARK}-secret` });
      assert.equal((await a('GET', '/api/v0/ssh/')).body.length, 1);
      assert.ok((await a('GET', '/api/v0/auth/apikeys/')).body.apikeys.some((k: { id: number }) => k.id === ids.key));
      assert.ok((await a('GET', '/api/v0/endptjobs/')).body.results.some((e: { id: number }) => e.id === ids.endpoint));
      assert.equal((await a('GET', `/api/v0/deployment/${ids.deployment}/`)).status, 200);
      assert.ok((await a('GET', '/api/v0/users/current/')).body.balance > 0);
    });
  });
}
