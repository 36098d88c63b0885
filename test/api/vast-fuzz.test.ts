import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { HOSTILE_BODIES, HOSTILE_QUERY_VALUES, HOSTILE_VALUES, prototypeClean } from '../helpers/hostile.js';
import { TEST_STORES } from '../helpers/stores.js';

/** Every endpoint of the instance lifecycle, fed random input: never a 500, always a Vast error body. */
const ENDPOINTS: [method: string, path: (id: string) => string][] = [
  ['GET', () => '/api/v0/users/current/'],
  ['POST', () => '/api/v0/bundles/'],
  ['PUT', () => '/api/v0/search/asks/'],
  ['PUT', (id) => `/api/v0/asks/${id}/`],
  ['GET', () => '/api/v0/instances/'],
  ['GET', () => '/api/v1/instances/'],
  ['GET', (id) => `/api/v0/instances/${id}/`],
  ['PUT', (id) => `/api/v0/instances/${id}/`],
  ['PUT', () => '/api/v0/instances/'],
  ['DELETE', () => '/api/v0/instances/'],
  ['PUT', (id) => `/api/v0/instances/reboot/${id}/`],
  ['PUT', (id) => `/api/v0/instances/recycle/${id}/`],
  ['DELETE', (id) => `/api/v0/instances/${id}/`],
  ['PUT', (id) => `/api/v0/instances/request_logs/${id}/`],
  ['GET', (id) => `/api/v0/results/${id}/`],
  ['POST', () => '/api/v0/endptjobs/'],
  ['GET', () => '/api/v0/endptjobs/'],
  ['PUT', (id) => `/api/v0/endptjobs/${id}/`],
  ['DELETE', (id) => `/api/v0/endptjobs/${id}/`],
  ['POST', () => '/api/v0/workergroups/'],
  ['GET', () => '/api/v0/autojobs/'],
  ['PUT', (id) => `/api/v0/workergroups/${id}/`],
  ['DELETE', (id) => `/api/v0/autojobs/${id}/`],
  ['POST', () => '/api/v0/deployments/'],
  ['GET', () => '/api/v0/deployments/'],
  ['GET', (id) => `/api/v0/deployment/${id}/`],
  ['POST', (id) => `/api/v0/deployment/${id}/stop/`],
  ['POST', (id) => `/api/v0/deployment/${id}/start/`],
  ['DELETE', (id) => `/api/v0/deployment/${id}/`],
  ['POST', () => '/route/'],
  ['POST', () => '/worker_status/'],
  ['POST', () => '/delete_requests/'],
  ['POST', () => '/get_endpoint_workers/'],
  ['POST', () => '/get_endpoint_logs/'],
  ['POST', () => '/get_workergroup_workers/'],
  ['POST', () => '/get_workergroup_logs/'],
  ['POST', (id) => `/endpoints/${id}/x`],
];

const sqlite = TEST_STORES.find((s) => s.name === 'sqlite');
describe('vast API fuzz', { skip: sqlite?.skip ?? 'no sqlite' }, () => {
  let g: TestGantry;
  before(async () => {
    g = await startTestGantry(sqlite!, { gpus: '1x A100:80GB', settings: { serverlessQueueTimeoutMs: 200 } });
  });
  after(() => g.dispose());

  const id = fc.oneof(
    fc.constantFrom('1', '1001', '0', '-1', '1e3', '9007199254740993', 'abc', '%20', '1.5'),
    fc.nat().map(String),
    fc.string({ maxLength: 12 }).map(encodeURIComponent),
  );
  const field = fc.constantFrom(
    'num_gpus',
    'gpu_name',
    'dph_total',
    'verified',
    'driver_version',
    'order',
    'limit',
    'type',
    'image',
    'disk',
    'env',
    'onstart',
    'args',
    'state',
    'label',
    'ids',
    'instance_ids',
    'tail',
    'filter',
    'price',
    'runtype',
    'target_state',
    'q',
    'select_filters',
    'name',
    'endpoint_name',
    'endpoint_id',
    'endpoint_state',
    'alias_of',
    'min_load',
    'target_util',
    'max_workers',
    'inactivity_timeout',
    'search_params',
    'launch_args',
    'gpu_ram',
    'endpoint',
    'cost',
    'request_idx',
    'finish_pending_work',
    'force',
    'timeout',
    'id',
    'mtoken',
  );
  const op = fc.constantFrom('eq', 'neq', 'gt', 'gte', 'lt', 'lte', 'in', 'notin', 'nin', 'like', 'toString', 'constructor', '__proto__');
  const value = fc.oneof(fc.jsonValue({ maxDepth: 2 }), fc.dictionary(op, fc.jsonValue({ maxDepth: 1 }), { maxKeys: 2 }));
  const body = fc.oneof(
    fc.dictionary(field, value, { maxKeys: 4 }).map((o) => JSON.stringify(o)),
    fc.tuple(field, fc.constantFrom(...HOSTILE_VALUES)).map(([f, v]) => `{"${f}":${v}}`),
    fc.constantFrom(...HOSTILE_BODIES),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 40 }),
    fc.constant(''),
  );
  const query = fc.dictionary(
    fc.constantFrom('limit', 'select_filters', 'order_by', 'select_cols', 'after_token', 'owner', 'q'),
    fc.oneof(
      fc.string({ maxLength: 20 }),
      fc.jsonValue({ maxDepth: 2 }).map((v) => JSON.stringify(v)),
    ),
    { maxKeys: 3 },
  );

  // First, while the one GPU is free (an offer is listed: searches run their filters on it).
  it("names of Object's own methods as operators, limits or types are unknown input (400), never looked up on Object", async () => {
    const hostile = ['{"toString":1}', '{"constructor":1}', '{"__proto__":"x"}', '{"valueOf":{}}', '{"hasOwnProperty":1}'];
    const cases: [string, string, string | undefined][] = [];
    for (const h of hostile) {
      cases.push(['POST', '/api/v0/bundles/', `{"num_gpus":${h}}`], ['POST', '/api/v0/bundles/', `{"gpu_name":${h}}`]);
      cases.push(
        ['PUT', '/api/v0/search/asks/', `{"q":{"num_gpus":${h}}}`],
        ['GET', `/api/v0/bundles/?q=${encodeURIComponent(`{"num_gpus":${h}}`)}`, undefined],
      );
      cases.push(['GET', `/api/v1/instances/?select_filters=${encodeURIComponent(`{"id":${h}}`)}`, undefined]);
      cases.push(['GET', `/api/v0/invoices/?select_filters=${encodeURIComponent(`{"amount_cents":${h}}`)}`, undefined]);
      for (const f of ['limit', 'allocated_storage']) cases.push(['POST', '/api/v0/bundles/', `{"${f}":${h}}`]);
      cases.push(['GET', `/api/v1/instances/?limit=${encodeURIComponent(h)}`, undefined]);
    }
    for (const t of ['toString', 'constructor', '__proto__']) cases.push(['POST', '/api/v0/bundles/', `{"type":"${t}"}`]);
    assert.ok(((await g.api('POST', '/api/v0/bundles/', {})).body.offers as unknown[]).length > 0, 'an offer is listed');
    // A field of that name is a field Gantry's invoices do not have: it filters nothing out.
    const field = await g.api('GET', `/api/v0/invoices/?select_filters=${encodeURIComponent('{"toString":{"eq":1},"constructor":{"eq":1}}')}`);
    assert.equal(field.status, 200, field.text);
    for (const [method, path, rawBody] of cases) {
      const r = await g.api(method, path, undefined, { rawBody });
      assert.equal(r.status, 400, `${method} ${path} ${rawBody ?? ''} → ${r.status} ${r.text}`);
      assert.equal(r.body?.success, false, r.text);
    }
  });

  it('select_cols and label counts read only own fields: __proto__ and constructor are names like any other', async () => {
    const created = await g.api('PUT', '/api/v0/asks/1001/', { image: 'x', onstart: 'sleep 1', label: 'constructor', target_state: 'stopped' });
    assert.equal(created.status, 200, created.text);
    const r = await g.api('GET', `/api/v1/instances/?select_cols=${encodeURIComponent('["__proto__","constructor","id"]')}`);
    assert.equal(r.status, 200, r.text);
    assert.ok(!r.text.includes('"__proto__":{'), r.text.slice(0, 300));
    for (const row of r.body.instances as Record<string, unknown>[]) {
      assert.equal(row.constructor ?? null, null, r.text.slice(0, 300));
      assert.equal(typeof row.id, 'number');
    }
    assert.ok(r.body.label_counts.constructor >= 1, `label_counts: ${JSON.stringify(r.body.label_counts)}`);
  });

  it('never answers 5xx and always answers errors in Vast shape', async () => {
    await fc.assert(
      fc.asyncProperty(fc.constantFrom(...ENDPOINTS), id, body, query, async ([method, path], i, b, q) => {
        const qs = new URLSearchParams(q).toString();
        const r = await g.api(method, path(i) + (qs ? `?${qs}` : ''), undefined, { rawBody: method === 'GET' ? undefined : b });
        // The proxy may rightly answer 502/503/504 (no worker, endpoint stopped, queue timeout); never 500.
        const limit = path(i).startsWith('/endpoints/') ? 505 : 500;
        assert.ok(r.status < limit && r.status !== 500, `${method} ${path(i)} ${b} → ${r.status} ${r.text}`);
        if (r.status >= 400) {
          assert.equal(r.body?.success, false, r.text);
          assert.equal(typeof r.body?.msg, 'string', r.text);
          assert.equal(r.contentType, 'application/json');
        }
      }),
      { numRuns: 400 },
    );
    // Still serving after all that.
    assert.equal((await g.api('GET', '/api/v0/users/current/')).status, 200);
  });

  /** A 4xx in Vast's shape or a success; never a 5xx (the proxy may answer 502-504: no worker). */
  const checkVast = (r: { status: number; text: string; body: any; contentType: string | null }, where: string, path: string): void => {
    const limit = path.startsWith('/endpoints/') ? 505 : 500;
    assert.ok(r.status < limit && r.status !== 500, `${where} → ${r.status} ${r.text.slice(0, 300)}`);
    if (r.status >= 400) {
      assert.equal(r.body?.success, false, `${where}: ${r.text.slice(0, 300)}`);
      assert.equal(typeof r.body?.msg, 'string', where);
      assert.ok(r.text.length < 4096, `${where}: a short message, not an echo (${r.text.length} bytes)`);
      assert.equal(r.contentType, 'application/json', where);
    }
  };

  it("a template's extra_filters are checked when it is made; a workergroup's search_params may be JSON filters, {} sets nothing", async () => {
    for (const extra of [{ num_gpus: { toString: 1 } }, { num_gpus: { bogus: 1 } }, { gpu_name: { in: 'A100' } }]) {
      const t = await g.api('POST', '/api/v0/template/', { name: 'bad-filters', image: 'ubuntu', extra_filters: extra });
      assert.equal(t.status, 400, `${JSON.stringify(extra)}: ${t.text}`);
      assert.equal(t.body.success, false);
    }
    const ep = await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'filters', min_load: 0, cold_workers: 0, max_workers: 0 });
    assert.equal(ep.status, 200, ep.text);
    const made = await g.api('POST', '/api/v0/workergroups/', {
      endpoint_name: 'filters',
      search_params: { gpu_name: { eq: 'A100' }, num_gpus: { gte: 1 } },
      launch_args: '--image busybox',
    });
    assert.equal(made.status, 200, made.text);
    const id = made.body.id as number;
    const shown = async (): Promise<string> =>
      ((await g.api('GET', '/api/v0/workergroups/')).body.results as { id: number; search_params: string }[]).find((w) => w.id === id)?.search_params ?? '';
    assert.equal(await shown(), 'gpu_name=A100 num_gpus>=1');
    assert.equal((await g.api('PUT', `/api/v0/workergroups/${id}/`, { search_params: {} })).status, 200);
    assert.equal(await shown(), 'gpu_name=A100 num_gpus>=1', 'the SDK default {} changes nothing');
    assert.equal((await g.api('PUT', `/api/v0/workergroups/${id}/`, { search_params: { gpu_ram: { gte: 40_000 } } })).status, 200);
    assert.equal(await shown(), 'gpu_ram>=40', "JSON filters carry memory in MB, as Vast's search body does; the text shows GB");
    const bad = await g.api('PUT', `/api/v0/workergroups/${id}/`, { search_params: { gpu_ram: { toString: 1 } } });
    assert.equal(bad.status, 400, bad.text);
    assert.equal(await shown(), 'gpu_ram>=40');
    assert.equal((await g.api('DELETE', `/api/v0/endptjobs/${ep.body.result as number}/`)).status, 200);
  });

  it('deep nesting, huge numbers and prototype keys in bodies and query JSON: never a 5xx, errors in Vast shape', async () => {
    const write = ENDPOINTS.filter(([m]) => m !== 'GET');
    for (const [method, path] of write) {
      for (const b of HOSTILE_BODIES)
        checkVast(await g.api(method, path('1'), undefined, { rawBody: b }), `${method} ${path('1')} ${b.slice(0, 40)}`, path('1'));
    }
    // The fields the probe named, where they are read; every other field spread over the endpoints.
    const named: [string, string, string[]][] = [
      ['PUT', '/api/v0/asks/1001/', ['disk', 'args', 'target_state', 'price', 'num_gpus', 'env', 'image', 'label']],
      ['PUT', '/api/v0/instances/', ['ids', 'state']],
      ['PUT', '/api/v0/search/asks/', ['q', 'num_gpus', 'order', 'limit', 'type']],
      ['POST', '/route/', ['cost', 'endpoint', 'request_idx']],
      ['POST', '/api/v0/endptjobs/', ['min_load', 'target_util', 'max_workers', 'endpoint_name']],
      ['POST', '/api/v0/workergroups/', ['search_params', 'endpoint_id', 'gpu_ram']],
    ];
    for (const [method, path, fields] of named) {
      for (const f of fields)
        for (const v of HOSTILE_VALUES)
          checkVast(await g.api(method, path, undefined, { rawBody: `{"${f}":${v}}` }), `${method} ${path} ${f}=${v.slice(0, 30)}`, path);
    }
    const reads = ['/api/v0/instances/', '/api/v1/instances/', '/api/v0/bundles/', '/api/v0/endptjobs/', '/api/v0/deployments/'];
    for (const path of reads) {
      for (const name of ['q', 'select_filters', 'select_cols', 'order_by']) {
        for (const v of HOSTILE_QUERY_VALUES) {
          // Raw brackets: a 5,000-deep value percent-encoded would pass Node's header size limit.
          const r = await g.api('GET', `${path}?${name}=${v.replace(/"/g, '%22')}`);
          checkVast(r, `GET ${path}?${name}=${v.slice(0, 40)}`, path);
          assert.ok(!r.text.includes('"__proto__":{'), `GET ${path}?${name}=${v.slice(0, 40)} echoes a prototype: ${r.text.slice(0, 300)}`);
        }
      }
    }
    assert.ok(prototypeClean(), 'Object.prototype was polluted');
    assert.equal((await g.api('GET', '/api/v0/users/current/')).status, 200);
  });
});
