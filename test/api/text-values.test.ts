import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Text that a store cannot keep as it came is refused with a 400 in the dialect's shape, never a 500
 * and never changed on the way: a lone UTF-16 surrogate on both stores (the edge refuses it), a NUL
 * character on PostgreSQL (SQLite keeps it, and gives it back exactly).
 */
for (const ts of TEST_STORES) {
  describe(`text values a store cannot keep (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let id: number;
    before(async () => {
      g = await startTestGantry(ts);
      const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const r = await g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 300', target_state: 'stopped' });
      assert.equal(r.status, 200, r.text);
      id = r.body.new_contract as number;
    });
    after(() => g.dispose());

    it('a lone surrogate in a body is a 400 in every dialect, and nothing is stored', async () => {
      const raw = (s: string) => `{"label":"x${s}y"}`;
      const r = await g.api('PUT', `/api/v0/instances/${id}/`, undefined, { rawBody: raw('\\ud800') });
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.success, false);
      assert.match(r.body.msg as string, /surrogate/);
      const key = await g.api('POST', '/api/v0/auth/apikeys/', undefined, { rawBody: '{"name":"k\\udc00"}' });
      assert.equal(key.status, 400, key.text);
      const es = await g.api('PUT', '/_ml/trained_models/surrogate-model', undefined, { rawBody: '{"description":"\\ud83d","input":{"field_names":["t"]}}' });
      assert.equal(es.status, 400, es.text);
      assert.equal(es.body.status, 400);
      const aicore = await g.api('POST', '/v2/admin/resourceGroups', undefined, { rawBody: '{"resourceGroupId":"rg\\ud800"}' });
      assert.equal(aicore.status, 400, aicore.text);
      assert.equal(typeof aicore.body.error?.message, 'string');
      // A pair (an emoji) is text, and comes back as it was sent.
      const ok = await g.api('PUT', `/api/v0/instances/${id}/`, undefined, { rawBody: raw('\\ud83d\\ude00') });
      assert.equal(ok.status, 200, ok.text);
      assert.equal((await g.api('GET', `/api/v0/instances/${id}/`)).body.instances.label, 'x😀y');
    });

    it(`a NUL character ${ts.name === 'postgres' ? 'is a 400 on PostgreSQL, on every route that stores text' : 'round-trips exactly on SQLite'}`, async () => {
      const label = await g.api('PUT', `/api/v0/instances/${id}/`, { label: 'a\u0000b' });
      const key = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'k\u0000' });
      const ssh = await g.api('POST', '/api/v0/ssh/', { ssh_key: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGantryNulTestKey000000000000000000000000000 a\u0000b' });
      const logs = await g.api('POST', '/get_endpoint_workers/', { endpoint: 'e\u0000' });
      if (ts.name !== 'postgres') {
        assert.equal(label.status, 200, label.text);
        assert.equal((await g.api('GET', `/api/v0/instances/${id}/`)).body.instances.label, 'a\u0000b');
        return;
      }
      for (const r of [label, key, ssh, logs]) {
        assert.equal(r.status, 400, r.text);
        assert.equal(r.body.success, false);
        assert.match(r.body.msg as string, /U\+0000/);
      }
      assert.notEqual((await g.api('GET', `/api/v0/instances/${id}/`)).body.instances.label, 'a\u0000b');
    });

    it("an id past 32 bits is a 4xx in the dialect's shape on either store, never a 500", async () => {
      const big = 2 ** 31;
      const calls: [string, string, unknown][] = [
        ['GET', `/api/v0/instances/${big}/`, undefined],
        ['PUT', `/api/v0/instances/${big}/`, { label: 'x' }],
        ['DELETE', `/api/v0/ssh/${big}/`, undefined],
        ['DELETE', `/api/v0/auth/apikeys/${big}/`, undefined],
        ['POST', '/api/v0/auth/apikeys/', { name: 'k', team_id: big }],
        ['PUT', '/api/v0/commands/transfer_credit/', { recipient: String(big), amount: 1 }],
        ['POST', '/get_endpoint_workers/', { id: big }],
        ['PUT', `/api/v0/endptjobs/${Number.MAX_SAFE_INTEGER}/`, { min_load: 1 }],
        ['DELETE', `/console/api/deployments/${big}`, undefined],
      ];
      for (const [method, path, body] of calls) {
        const r = await g.api(method, path, body);
        assert.ok(r.status >= 400 && r.status < 500, `${method} ${path} → ${r.status} ${r.text}`);
        if (path.startsWith('/console/')) assert.equal(typeof r.body.error?.code, 'string', r.text);
        else assert.equal(r.body.success, false, r.text);
      }
    });
  });
}
