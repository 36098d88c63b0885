import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { toyDialect } from '../fixtures/toy-dialect.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * A new dialect gets authentication, errors in its own shape, 404s under its prefix, audit, rate
 * limits and permissions from the edge and the use cases alone (test/fixtures/toy-dialect.ts).
 */
const sqlite = TEST_STORES.find((s) => s.name === 'sqlite');
describe('a dialect mounted through the edge (test-only toy dialect)', { skip: sqlite?.skip }, () => {
  let g: TestGantry;
  let alice: { id: number; api_key: string };
  let bob: { id: number; api_key: string };
  let instance: number;

  const toy = async (method: string, path: string, key: string | null, body?: unknown) => {
    const headers: Record<string, string> = {};
    if (key !== null) headers['x-toy-key'] = key;
    if (body !== undefined) headers['content-type'] = 'application/json';
    const res = await fetch(g.url + path, { method, headers, body: body === undefined ? undefined : JSON.stringify(body) });
    const text = await res.text();
    return { status: res.status, type: res.headers.get('content-type'), retryAfter: res.headers.get('retry-after'), body: JSON.parse(text) };
  };

  before(async () => {
    // Only the toy routes are in the "other" family here, so the limit applies to them alone.
    g = await startTestGantry(sqlite!, { dialects: [toyDialect], settings: { rateLimit: 0, rateLimits: 'other=5' } });
    alice = (await g.api('POST', '/api/v0/users/', { username: 'alice', credit: 100 })).body;
    bob = (await g.api('POST', '/api/v0/users/', { username: 'bob', credit: 100 })).body;
    const machine = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    const created = await g.api('PUT', `/api/v0/asks/${machine * 1000 + 1}/`, { image: 'x', onstart: 'sleep 600', runtype: 'ssh' }, { key: alice.api_key });
    assert.equal(created.status, 200, JSON.stringify(created.body));
    instance = created.body.new_contract;
    await g.waitInstance(instance, (x) => x.actual_status === 'running', 20_000, alice.api_key);
  });
  after(() => g.dispose());

  it('authenticates with its own credential header, and answers 401 in its own shape', async () => {
    const none = await toy('GET', '/toy/instances', null);
    assert.equal(none.status, 401);
    assert.equal(none.type, 'application/problem+json');
    assert.equal(none.body.problem.code, 'UNAUTHENTICATED');
    assert.equal((await toy('GET', '/toy/instances', 'gnt_not_a_key')).status, 401);
    assert.equal((await toy('POST', '/toy/instances/abc/stop', null)).status, 401, 'authentication comes before the route schema');
    const listed = await toy('GET', '/toy/instances', alice.api_key);
    assert.equal(listed.status, 200);
    assert.deepEqual(
      listed.body.items.map((i: { id: number }) => i.id),
      [instance],
    );
  });

  it("errors and 404s come in the dialect's shape; other dialects keep theirs", async () => {
    const schema = await toy('POST', '/toy/instances/abc/stop', alice.api_key);
    assert.equal(schema.status, 400);
    assert.equal(schema.body.problem.code, 'INVALID_ARGUMENT');
    assert.match(schema.body.problem.text, /id/);
    const extra = await toy('POST', `/toy/instances/${instance}/stop`, alice.api_key, { reason: 'x', extra: 1 });
    assert.equal(extra.status, 400, 'its JSON schema refuses unknown fields');
    const missing = await toy('POST', '/toy/instances/999999/stop', alice.api_key);
    assert.equal(missing.status, 404);
    assert.equal(missing.body.problem.code, 'INSTANCE_NOT_FOUND');
    const nowhere = await toy('GET', '/toy/nothing-here', alice.api_key);
    assert.equal(nowhere.status, 404);
    assert.equal(nowhere.body.problem.code, 'NOT_FOUND');
    const vast = await g.api('GET', '/api/v0/nothing-here/');
    assert.equal(vast.status, 404);
    assert.equal(vast.body.success, false, 'the Vast dialect still answers its own 404');
  });

  it('permissions are checked by the use case, not by a route table', async () => {
    const ro = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'ro', permissions: { api: { instance_read: {} } } }, { key: alice.api_key });
    assert.equal(ro.status, 200, JSON.stringify(ro.body));
    assert.equal((await toy('GET', '/toy/instances', ro.body.key)).status, 200);
    const denied = await toy('POST', `/toy/instances/${instance}/stop`, ro.body.key);
    assert.equal(denied.status, 403);
    assert.equal(denied.body.problem.code, 'PERMISSION_MISSING');
    assert.match(denied.body.problem.text, /instance_write/);
    const other = await toy('POST', `/toy/instances/${instance}/stop`, bob.api_key);
    assert.equal(other.status, 404, "another tenant's instance does not exist for it");
  });

  it('stops an instance, and the call is audited like any state-changing call', async () => {
    const r = await toy('POST', `/toy/instances/${instance}/stop`, alice.api_key);
    assert.equal(r.status, 200, JSON.stringify(r.body));
    assert.deepEqual(r.body, { id: instance, changed: true });
    await g.waitInstance(instance, (x) => x.actual_status === 'stopped', 20_000, alice.api_key);
    const audit = (await g.api('GET', '/api/v0/audit_logs/', undefined, { key: alice.api_key })).body;
    const rows = (Array.isArray(audit) ? audit : (audit.audit_logs ?? audit.results ?? [])) as { path?: string; route?: string; status_code?: number }[];
    const mine = rows.filter((a) => JSON.stringify(a).includes('/toy/instances/'));
    assert.ok(mine.length >= 1, `audit rows: ${JSON.stringify(audit).slice(0, 400)}`);
    assert.ok(
      mine.some((a) => JSON.stringify(a).includes('403')),
      'the refused call is recorded too',
    );
  });

  it('rate limits apply per credential and family, with Retry-After, in its shape', async () => {
    const key = (await g.api('POST', '/api/v0/auth/apikeys/', { name: 'burst' }, { key: alice.api_key })).body.key as string;
    const rs = await Promise.all(Array.from({ length: 30 }, () => toy('GET', '/toy/instances', key)));
    const limited = rs.filter((r) => r.status === 429);
    assert.ok(limited.length >= 10, `only ${limited.length} of 30 limited at 5/s (burst 10)`);
    assert.equal(limited[0]?.body.problem.code, 'RATE_LIMITED');
    assert.ok(Number(limited[0]?.retryAfter) >= 1);
  });

  it('counts its requests under its own name in the metrics', async () => {
    const text = await (await fetch(`${g.url}/metrics`)).text();
    assert.match(text, /dialect="toy"/);
  });
});
