import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { routesOf } from '../../src/api/app.js';
import { lm } from '../helpers/aicore.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { HOSTILE_BODIES, HOSTILE_QUERY_VALUES, HOSTILE_VALUES, prototypeClean } from '../helpers/hostile.js';
import { TEST_STORES } from '../helpers/stores.js';
import { servingTemplate } from '../fixtures/aicore/templates.js';

/**
 * Every AI Core route the app serves (`/v2/*`, `/oauth/token`, read from the app itself so a new route
 * cannot be missed), fed random input: bodies of every shape, wrong content types, empty bodies under
 * a JSON type, unknown fields, ids of the wrong shape, `$top`/`$skip` out of range, bad ttl, missing or
 * malformed `AI-Resource-Group`, no or a bad credential. Never a 500; every error in AI Core's body.
 */
const TEMPLATE = servingTemplate({ id: 'fuzz-exe', scenario: 'fuzz-scn', params: { modelName: 'tiny' }, minReplicas: 0, image: 'x' });

const sqlite = TEST_STORES.find((s) => s.name === 'sqlite');
describe('AI Core API fuzz', { skip: sqlite?.skip ?? 'no sqlite' }, () => {
  let g: TestGantry;
  let routes: { method: string; url: string }[];
  /** Real ids, so some calls get past "not found" into the use case. */
  const real: Record<string, string> = { resourceGroupId: 'fuzz-rg', scenarioId: 'fuzz-scn', executableId: 'fuzz-exe', name: 'fuzz-app' };

  before(async () => {
    // No local host: deployments stay pending (nothing to place them on), so the fuzz starts no process.
    g = await startTestGantry(sqlite!, { localHost: false, settings: { serverlessQueueTimeoutMs: 200 } });
    const key = g.adminKey!;
    assert.equal((await lm(g, key, 'POST', '/v2/admin/resourceGroups', { resourceGroupId: 'fuzz-rg' }, { group: null })).status, 202);
    const t = await lm(g, key, 'POST', '/v2/admin/servingTemplates', { files: [{ name: 'fuzz.yaml', content: TEMPLATE }] }, { group: null });
    assert.equal(t.status, 201, t.text);
    const art = await lm(g, key, 'POST', '/v2/lm/artifacts', { name: 'w', kind: 'model', url: 'file:///w', scenarioId: 'fuzz-scn' });
    assert.equal(art.status, 201, art.text);
    const conf = await lm(g, key, 'POST', '/v2/lm/configurations', { name: 'c', executableId: 'fuzz-exe', scenarioId: 'fuzz-scn' });
    assert.equal(conf.status, 201, conf.text);
    const dep = await lm(g, key, 'POST', '/v2/lm/deployments', { configurationId: conf.body.id, ttl: '1d' });
    assert.equal(dep.status, 202, dep.text);
    Object.assign(real, { artifactId: art.body.id, configurationId: conf.body.id, id: dep.body.id });
    routes = routesOf(g.app)
      .filter((r) => r.url.startsWith('/v2/') || r.url === '/oauth/token')
      .filter((r) => ['GET', 'POST', 'PUT', 'PATCH', 'DELETE'].includes(r.method))
      .map((r) => ({ method: r.method, url: r.url }));
  });
  after(() => g.dispose());

  it('finds every AI Core route in the app', () => {
    const names = new Set(routes.map((r) => `${r.method} ${r.url}`));
    for (const must of [
      'POST /oauth/token',
      'POST /v2/admin/resourceGroups',
      'POST /v2/admin/servingTemplates',
      'GET /v2/lm/scenarios/:scenarioId/executables/:executableId',
      'POST /v2/lm/configurations',
      'GET /v2/lm/artifacts/:artifactId',
      'PATCH /v2/lm/deployments',
      'GET /v2/lm/deployments/:id/logs',
      'POST /v2/inference/deployments/:id/*',
      'GET /v2/lm/meta',
    ])
      assert.ok(names.has(must), must);
    // Every parameter a route names has a real id to try.
    for (const r of routes) for (const [, p] of r.url.matchAll(/:(\w+)/g)) assert.ok(p !== undefined && p in real, `${r.url}: no id for :${String(p)}`);
  });

  const badId = fc.oneof(
    fc.constantFrom(
      'x',
      'abc',
      '-1',
      '0',
      '%20',
      '..',
      '%2e%2e',
      'a'.repeat(65),
      'a'.repeat(300),
      'UPPER',
      'dé-ployment',
      '$count',
      '0123456789abcdeg',
      'default',
    ),
    fc.string({ maxLength: 20 }).map(encodeURIComponent),
  );
  const param = fc.oneof(fc.constant(null), badId);
  const field = fc.constantFrom(
    'configurationId',
    'targetStatus',
    'ttl',
    'deployments',
    'id',
    'name',
    'executableId',
    'scenarioId',
    'parameterBindings',
    'inputArtifactBindings',
    'kind',
    'url',
    'description',
    'labels',
    'resourceGroupId',
    'files',
    'content',
    'repositoryUrl',
    'path',
    'revision',
    'applicationName',
    'resourceGroup',
    'grant_type',
    'client_id',
    'client_secret',
    'unknownField',
  );
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom('STOPPED', 'RUNNING', 'DELETED', '1d', '10m', '1w', '0m', '99999999999d', 'file:///x', '/nonexistent', 'client_credentials'),
    fc.array(fc.record({ id: badId, targetStatus: fc.constantFrom('STOPPED', 'DELETED', 'RUNNING', 'x') }), { maxLength: 3 }),
    fc.array(fc.record({ key: fc.string({ maxLength: 8 }), value: fc.string({ maxLength: 8 }) }), { maxLength: 2 }),
  );
  const body = fc.oneof(
    fc.dictionary(field, value, { maxKeys: 4 }).map((o) => JSON.stringify(o)),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 40 }),
    fc.constantFrom('', ' ', '{', 'null', '[]', 'grant_type=client_credentials&client_id=x&client_secret=y'),
    fc.constant(undefined),
  );
  const contentType = fc.constantFrom(
    'application/json',
    'application/merge-patch+json',
    'application/json; charset=utf-8',
    'text/plain',
    'application/x-www-form-urlencoded',
    'multipart/form-data; boundary=x',
    'application/octet-stream',
    undefined,
  );
  const query = fc.dictionary(
    fc.constantFrom(
      '$top',
      '$skip',
      '$count',
      '$select',
      '$search',
      '$expand',
      '$order',
      'status',
      'scenarioId',
      'executableIds',
      'configurationId',
      'labelSelector',
      'versionId',
      'start',
      'end',
      'searchCaseInsensitive',
      'grant_type',
    ),
    fc.oneof(
      fc.constantFrom(
        '-1',
        '0',
        '1',
        '100000',
        '100001',
        '5001',
        '1e3',
        '1.5',
        'abc',
        '',
        'RUNNING',
        'status',
        'scenario',
        'desc',
        '2026-01-01T00:00:00Z',
        'x=y',
      ),
      fc.string({ maxLength: 12 }),
    ),
    { maxKeys: 3 },
  );
  const group = fc.constantFrom<string | undefined>(undefined, 'default', 'fuzz-rg', '', 'x', 'no-such-group', 'bad group!', 'a'.repeat(300));
  const auth = fc.constantFrom<'admin' | 'none' | 'garbage'>('admin', 'admin', 'admin', 'admin', 'none', 'garbage');

  it('never answers 5xx and always answers errors in AI Core shape', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(param, { minLength: 3, maxLength: 3 }),
        body,
        contentType,
        query,
        group,
        auth,
        async (pick, params, b, ct, q, grp, who) => {
          const r = routes[pick % routes.length]!;
          let i = 0;
          const path = r.url.replace(/:(\w+)/g, (_m, p: string) => encodeURIComponent(params[i++] ?? real[p] ?? 'x')).replace('*', 'chat/completions');
          const qs = new URLSearchParams(q).toString();
          const headers: Record<string, string> = {};
          if (who === 'admin') headers.authorization = `Bearer ${g.adminKey}`;
          if (who === 'garbage') headers.authorization = 'Bearer not.a.token';
          if (grp !== undefined) headers['ai-resource-group'] = grp;
          // A content type without a body too: the SDK sends application/json on GET and DELETE.
          if (ct !== undefined) headers['content-type'] = ct;
          const sendBody = r.method === 'GET' ? undefined : b;
          const res = await fetch(`${g.url}${path}${qs ? `?${qs}` : ''}`, { method: r.method, headers, body: sendBody });
          const text = await res.text();
          const where = `${r.method} ${path}?${qs} [${ct ?? '-'}; group ${grp ?? '-'}; ${who}] ${JSON.stringify(sendBody)} → ${res.status} ${text.slice(0, 300)}`;
          // The gateway may rightly answer 503/504 for a deployment that cannot serve (pending, queue timeout); never 500.
          const limit = r.url.startsWith('/v2/inference/') ? 505 : 500;
          assert.ok(res.status < limit && res.status !== 500, where);
          if (res.status >= 400) {
            let e: Record<string, unknown> | undefined;
            try {
              e = (JSON.parse(text) as { error?: Record<string, unknown> }).error;
            } catch {
              e = undefined;
            }
            assert.ok(e !== undefined && typeof e === 'object', where);
            for (const k of ['code', 'message', 'requestId', 'target']) assert.equal(typeof e[k], 'string', `${k}: ${where}`);
            assert.match(res.headers.get('content-type') ?? '', /^application\/json/, where);
          }
        },
      ),
      { numRuns: 1500 },
    );
    // Still serving after all that, and the real deployment is still there.
    const d = await lm(g, g.adminKey!, 'GET', `/v2/lm/deployments/${real.id}`, undefined, { group: 'default' });
    assert.ok(d.status === 200 || d.status === 404, d.text);
    assert.equal((await lm(g, g.adminKey!, 'GET', '/v2/lm/meta', undefined)).status, 200);
  });

  it('deep nesting, huge numbers and prototype keys in bodies and queries: never a 5xx, errors in AI Core shape', async () => {
    const send = async (method: string, path: string, body: string | undefined, ct = 'application/json'): Promise<void> => {
      const res = await fetch(`${g.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${g.adminKey}`, 'ai-resource-group': 'fuzz-rg', 'content-type': ct },
        body: method === 'GET' ? undefined : body,
      });
      const text = await res.text();
      const where = `${method} ${path.slice(0, 120)} ${body?.slice(0, 40) ?? ''} → ${res.status} ${text.slice(0, 300)}`;
      const limit = path.startsWith('/v2/inference/') ? 505 : 500;
      assert.ok(res.status < limit && res.status !== 500, where);
      if (res.status >= 400) {
        const e = (JSON.parse(text) as { error?: Record<string, unknown> }).error;
        assert.ok(e !== undefined && typeof e === 'object', where);
        for (const k of ['code', 'message', 'requestId', 'target']) assert.equal(typeof e[k], 'string', `${k}: ${where}`);
        assert.ok(text.length < 4096, `${where}: a short message, not an echo`);
      }
    };
    const concrete = routes.map((r) => ({
      method: r.method,
      path: r.url.replace(/:(\w+)/g, (_m, p: string) => real[p] ?? 'x').replace('*', 'chat/completions'),
    }));
    const writes = concrete.filter((r) => r.method !== 'GET');
    for (const r of writes) {
      for (const b of HOSTILE_BODIES) {
        await send(r.method, r.path, b);
        // The dialect's own JSON type goes through its own parser: one deep body there is enough.
        if (b === HOSTILE_BODIES[0]) await send(r.method, r.path, b, 'application/merge-patch+json');
      }
    }
    const fields = [
      'configurationId',
      'targetStatus',
      'ttl',
      'deployments',
      'parameterBindings',
      'inputArtifactBindings',
      'labels',
      'files',
      'resourceGroupId',
      'name',
      'url',
    ];
    let n = 0;
    for (const f of fields)
      for (const v of HOSTILE_VALUES) {
        const r = writes[n++ % writes.length]!;
        await send(r.method, r.path, `{"${f}":${v}}`);
      }
    const reads = concrete.filter((r) => r.method === 'GET' && !r.path.startsWith('/v2/inference/'));
    for (const r of reads) {
      for (const name of ['$top', '$select', '$search', 'labelSelector', 'executableIds']) {
        for (const v of HOSTILE_QUERY_VALUES.slice(0, 4)) await send('GET', `${r.path}?${name}=${v.replace(/"/g, '%22')}`, undefined);
      }
    }
    assert.ok(prototypeClean(), 'Object.prototype was polluted');
  });

  it('a number, a boolean or a one-element array where a string belongs is a 400, not converted and acted on', async () => {
    const key = g.adminKey!;
    const refused = async (method: string, path: string, body: unknown, o: { group?: null; contentType?: string } = {}): Promise<void> => {
      const r = await lm(g, key, method, path, body, o);
      assert.equal(r.status, 400, `${method} ${path} ${JSON.stringify(body)} → ${r.status} ${r.text}`);
      assert.equal(r.body.error.code, 'INVALID_ARGUMENT', r.text);
    };
    await refused('PATCH', `/v2/lm/deployments/${real.id}`, { targetStatus: ['STOPPED'] });
    await refused('PATCH', `/v2/lm/deployments/${real.id}`, { targetStatus: 5 });
    await refused(
      'PATCH',
      '/v2/lm/deployments',
      { deployments: [{ id: [real.id], targetStatus: ['STOPPED'] }] },
      { contentType: 'application/merge-patch+json' },
    );
    await refused('POST', '/v2/lm/deployments', { configurationId: [real.configurationId] });
    for (const resourceGroupId of [true, 12345, ['team-b']]) await refused('POST', '/v2/admin/resourceGroups', { resourceGroupId }, { group: null });
    await refused('POST', '/v2/admin/resourceGroups', { resourceGroupId: 'typed-rg', labels: [{ key: 'ext.ai.sap.com/x', value: 5 }] }, { group: null });
    const conf = { executableId: 'fuzz-exe', scenarioId: 'fuzz-scn' };
    await refused('POST', '/v2/lm/configurations', { ...conf, name: ['x'] });
    await refused('POST', '/v2/lm/configurations', { ...conf, name: 'c2', parameterBindings: [{ key: 'modelName', value: 5 }] });
    // Nothing was acted on: the deployment still runs as asked, no group or configuration was made.
    const d = await lm(g, key, 'GET', `/v2/lm/deployments/${real.id}`);
    assert.equal(d.body.targetStatus, 'RUNNING', d.text);
    for (const id of ['true', '12345', 'team-b', 'typed-rg'])
      assert.equal((await lm(g, key, 'GET', `/v2/admin/resourceGroups/${id}`, undefined, { group: null })).status, 404, id);
    assert.equal((await lm(g, key, 'GET', '/v2/lm/configurations?$top=100')).body.count, 1);
    // Query strings are text: a number there is still read as one.
    const top = await lm(g, key, 'GET', '/v2/lm/deployments?$top=1&$skip=0');
    assert.equal(top.status, 200, top.text);
  });

  it('a resource group with an id of the longest length allowed (253) can be read, relabelled and deleted by its URL', async () => {
    const key = g.adminKey!;
    const id = `long-${'r'.repeat(248)}`;
    assert.equal(id.length, 253);
    const made = await lm(g, key, 'POST', '/v2/admin/resourceGroups', { resourceGroupId: id }, { group: null });
    assert.equal(made.status, 202, made.text);
    const got = await lm(g, key, 'GET', `/v2/admin/resourceGroups/${id}`, undefined, { group: null });
    assert.equal(got.status, 200, got.text);
    assert.equal(got.body.resourceGroupId, id);
    const patched = await lm(g, key, 'PATCH', `/v2/admin/resourceGroups/${id}`, { labels: [{ key: 'ext.ai.sap.com/team', value: 'a' }] }, { group: null });
    assert.ok(patched.status < 300, patched.text);
    const deleted = await lm(g, key, 'DELETE', `/v2/admin/resourceGroups/${id}`, undefined, { group: null });
    assert.ok(deleted.status < 300, deleted.text);
  });

  it('the empty body under a JSON content type the SDK sends on GET and DELETE is accepted', async () => {
    for (const [method, path] of [
      ['GET', '/v2/lm/deployments'],
      ['GET', '/v2/lm/scenarios'],
      ['GET', '/v2/admin/resourceGroups'],
      ['GET', `/v2/lm/deployments/${real.id}`],
      ['DELETE', '/v2/lm/deployments/0123456789abcdef'],
    ] as const) {
      const res = await fetch(`${g.url}${path}`, {
        method,
        headers: { authorization: `Bearer ${g.adminKey}`, 'ai-resource-group': 'default', 'content-type': 'application/json' },
        body: method === 'GET' ? undefined : '',
      });
      assert.ok(res.status === 200 || res.status === 404, `${method} ${path} → ${res.status} ${await res.text()}`);
    }
  });
});
