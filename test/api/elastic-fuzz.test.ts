import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import fc from 'fast-check';
import { routesOf } from '../../src/api/app.js';
import { minimalOnnx } from '../fixtures/onnx/minimal.js';
import { esRaw } from '../helpers/elastic.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { HOSTILE_BODIES, HOSTILE_QUERY_VALUES, HOSTILE_VALUES, prototypeClean } from '../helpers/hostile.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Every route of the Elasticsearch dialect the app serves (read from the app, so a new one cannot be
 * missed), fed random input: bodies of every shape, content types (compatible-with versions
 * included), empty bodies, ids of the wrong shape, query parameters out of range, parts with bad
 * base64, indexes and totals, bytes that are not ONNX, and no or a bad credential. Never a 5xx;
 * every error in Elasticsearch's body, with its product header.
 */
const sqlite = TEST_STORES.find((s) => s.name === 'sqlite');
describe('Elasticsearch API fuzz', { skip: sqlite?.skip ?? 'no sqlite' }, () => {
  let g: TestGantry;
  let routes: { method: string; url: string }[];
  const onnx = Buffer.from(minimalOnnx()).toString('base64');

  before(async () => {
    g = await startTestGantry(sqlite!, { localHost: false });
    const put = await esRaw(g, 'PUT', '/_ml/trained_models/fuzz-model', {
      contentType: 'application/json',
      body: JSON.stringify({ model_type: 'onnx', inference_config: { text_embedding: {} }, input: { field_names: ['text_field'] } }),
    });
    assert.equal(put.status, 200, put.text);
    routes = routesOf(g.app)
      .filter((r) => r.url === '/' || r.url.startsWith('/_ml/') || r.url.startsWith('/_ingest/'))
      .filter((r) => ['GET', 'POST', 'PUT', 'DELETE'].includes(r.method))
      .map((r) => ({ method: r.method, url: r.url }));
  });
  after(() => g.dispose());

  it('finds every route of the dialect in the app', () => {
    const names = new Set(routes.map((r) => `${r.method} ${r.url}`));
    for (const must of [
      'GET /',
      'PUT /_ml/trained_models/:model_id',
      'PUT /_ml/trained_models/:model_id/definition/:part',
      'PUT /_ml/trained_models/:model_id/vocabulary',
      'GET /_ml/trained_models',
      'GET /_ml/trained_models/:model_id',
      'DELETE /_ml/trained_models/:model_id',
      'PUT /_ml/trained_models/:model_id/model_aliases/:model_alias',
      'DELETE /_ml/trained_models/:model_id/model_aliases/:model_alias',
      'PUT /_ingest/pipeline/:id',
      'GET /_ingest/pipeline',
      'GET /_ingest/pipeline/:id',
      'DELETE /_ingest/pipeline/:id',
      'GET /_ml/_gantry/worker/model',
      'GET /_ml/_gantry/worker/model/definition',
      'POST /_ml/trained_models/:model_id/deployment/_start',
      'POST /_ml/trained_models/:deployment_id/deployment/_update',
      'POST /_ml/trained_models/:deployment_id/deployment/_stop',
      'POST /_ml/trained_models/:deployment_id/deployment/cache/_clear',
      'POST /_ml/trained_models/:model_id/_infer',
      'POST /_ml/trained_models/:model_id/deployment/_infer',
      'GET /_ml/trained_models/_stats',
      'GET /_ml/trained_models/:model_id/_stats',
      'POST /_ingest/pipeline/_simulate',
      'POST /_ingest/pipeline/:id/_simulate',
    ])
      assert.ok(names.has(must), must);
  });

  const id = fc.oneof(
    fc.constantFrom(
      'fuzz-model',
      'fuzz-model',
      'x',
      'UPPER',
      '-a',
      'a-',
      'a'.repeat(65),
      'a'.repeat(300),
      '_all',
      '*',
      'fuzz*,x',
      '%20',
      'dé',
      '0',
      '-1',
      '99999999999',
    ),
    fc.string({ maxLength: 20 }).map(encodeURIComponent),
  );
  const processor = fc.oneof(
    fc.record({
      inference: fc.record(
        { model_id: fc.oneof(fc.constant('fuzz-model'), fc.jsonValue()), target_field: fc.jsonValue({ maxDepth: 1 }) },
        { requiredKeys: [] },
      ),
    }),
    fc.record({ set: fc.record({ field: fc.string() }) }),
    fc.jsonValue({ maxDepth: 2 }),
  );
  const field = fc.constantFrom(
    'model_type',
    'inference_config',
    'input',
    'definition',
    'total_parts',
    'total_definition_length',
    'vocabulary',
    'merges',
    'scores',
    'processors',
    'description',
    'tags',
    'metadata',
    'on_failure',
    'unknown_field',
  );
  const value = fc.oneof(
    fc.jsonValue({ maxDepth: 2 }),
    fc.constantFrom('onnx', 'pytorch', 'tree_ensemble', 'lang_ident', 'AAAA', 'not base64!', onnx, -1, 0, 1, 2, 1e20, 3.5),
    fc.constantFrom({ text_embedding: {} }, { text_classification: { classification_labels: ['a'] } }, { ner: {} }, { pass_through: 1 }, {}),
    fc.constantFrom({ field_names: ['text_field'] }, { field_names: [] }, { field_names: 'x' }),
    fc.array(processor, { maxLength: 3 }),
    fc.array(fc.string({ maxLength: 6 }), { maxLength: 4 }),
  );
  const body = fc.oneof(
    fc.dictionary(field, value, { maxKeys: 5 }).map((o) => JSON.stringify(o)),
    fc.jsonValue({ maxDepth: 3 }).map((v) => JSON.stringify(v)),
    fc.string({ maxLength: 40 }),
    fc.constantFrom(
      '',
      ' ',
      '{',
      'null',
      '[]',
      '"x"',
      '1',
      JSON.stringify({ definition: onnx, total_parts: 1, total_definition_length: Buffer.from(onnx, 'base64').length }),
    ),
    fc.constant(undefined),
  );
  const contentType = fc.constantFrom(
    'application/json',
    'application/vnd.elasticsearch+json; compatible-with=9',
    'application/vnd.elasticsearch+json; compatible-with=8',
    'application/vnd.elasticsearch+json; compatible-with=7',
    'application/vnd.elasticsearch+json',
    'text/plain',
    'application/x-www-form-urlencoded',
    'application/octet-stream',
    undefined,
  );
  const query = fc.dictionary(
    fc.constantFrom(
      'allow_no_match',
      'from',
      'size',
      'include',
      'tags',
      'force',
      'timeout',
      'exclude_generated',
      'decompress_definition',
      'summary',
      'wait_for_completion',
    ),
    fc.oneof(
      fc.constantFrom('-1', '0', '1', '10000', '10001', '1e3', 'true', 'false', '', 'abc', 'definition_status', 'definition', 'x,y', '30s'),
      fc.string({ maxLength: 12 }),
    ),
    { maxKeys: 3 },
  );
  const auth = fc.constantFrom<string | null>(
    `ApiKey ADMIN`,
    `ApiKey ADMIN`,
    `Basic ADMIN`,
    `Bearer ADMIN`,
    null,
    'ApiKey gnt_wrong',
    'ApiKey !!!',
    'Basic ???',
    'Bearer',
  );
  const workerHeaders = fc.constantFrom<Record<string, string>>(
    {},
    { 'x-gantry-worker-id': '1', 'x-gantry-worker-token': 'x' },
    { 'x-gantry-worker-id': 'abc', 'x-gantry-worker-token': '' },
  );

  it('deep nesting, huge numbers and prototype keys in bodies and queries: never a 5xx, errors in Elasticsearch shape', async () => {
    const send = async (method: string, path: string, body: string | undefined, ct = 'application/json'): Promise<void> => {
      const res = await esRaw(g, method, path, {
        auth: `ApiKey ${g.adminKey as string}`,
        contentType: ct,
        ...(method !== 'GET' && body !== undefined ? { body } : {}),
      });
      const where = `${method} ${path.slice(0, 120)} ${body?.slice(0, 40) ?? ''} → ${res.status} ${res.text.slice(0, 300)}`;
      assert.ok(res.status < 500, where);
      if (res.status >= 400) {
        if (res.status === 404 && method === 'GET' && path.startsWith('/_ingest/pipeline')) return;
        const e = res.body?.error as Record<string, unknown> | undefined;
        assert.ok(e !== undefined && typeof e === 'object', where);
        assert.equal(typeof e.type, 'string', where);
        assert.equal(typeof e.reason, 'string', where);
        assert.equal(res.body.status, res.status, where);
        assert.ok(res.text.length < 4096, `${where}: a short message, not an echo`);
      }
    };
    const concrete = routes.map((r) => ({ method: r.method, path: r.url.replace(/:(\w+)/g, () => 'fuzz-model') }));
    const writes = concrete.filter((r) => r.method !== 'GET');
    for (const r of writes) {
      for (const b of HOSTILE_BODIES) {
        await send(r.method, r.path, b);
        // The dialect's own JSON type goes through its own parser: one deep body there is enough.
        if (b === HOSTILE_BODIES[0]) await send(r.method, r.path, b, 'application/vnd.elasticsearch+json; compatible-with=8');
      }
    }
    const fields = [
      'docs',
      'inference_config',
      'processors',
      'model_type',
      'input',
      'definition',
      'number_allocations',
      'threads_per_allocation',
      'timeout',
      'id',
      'adaptive_allocations',
      'vocabulary',
      'total_parts',
    ];
    let n = 0;
    for (const f of fields)
      for (const v of HOSTILE_VALUES) {
        const r = writes[n++ % writes.length]!;
        await send(r.method, r.path, `{"${f}":${v}}`);
      }
    for (const r of concrete.filter((x) => x.method === 'GET')) {
      for (const name of ['size', 'from', 'timeout', 'allow_no_match', 'include']) {
        for (const v of HOSTILE_QUERY_VALUES.slice(0, 4)) await send('GET', `${r.path}?${name}=${v.replace(/"/g, '%22')}`, undefined);
      }
    }
    assert.ok(prototypeClean(), 'Object.prototype was polluted');
    assert.equal((await esRaw(g, 'GET', '/')).status, 200);
  });

  it('never answers 5xx and always answers errors in Elasticsearch shape', async () => {
    const key = g.adminKey as string;
    await fc.assert(
      fc.asyncProperty(
        fc.nat(),
        fc.array(id, { minLength: 2, maxLength: 2 }),
        body,
        contentType,
        query,
        auth,
        workerHeaders,
        async (pick, ids, b, ct, q, who, wh) => {
          const r = routes[pick % routes.length]!;
          let i = 0;
          const path = r.url.replace(/:(\w+)/g, () => (ids[i++] as string) || 'x');
          const qs = new URLSearchParams(q).toString();
          const headers: Record<string, string> = { ...wh };
          const authHeader = who === null ? null : who.replace('ADMIN', who.startsWith('Basic') ? Buffer.from(`u:${key}`).toString('base64') : key);
          const sendBody = r.method === 'GET' ? undefined : b;
          const res = await esRaw(g, r.method, `${path}${qs ? `?${qs}` : ''}`, {
            auth: authHeader,
            headers,
            ...(ct !== undefined ? { contentType: ct } : {}),
            ...(sendBody !== undefined ? { body: sendBody } : {}),
          });
          const where = `${r.method} ${path}?${qs} [${ct ?? '-'}; ${who ?? 'no auth'}] ${JSON.stringify(sendBody)?.slice(0, 200)} → ${res.status} ${res.text.slice(0, 300)}`;
          assert.ok(res.status < 500, where);
          assert.equal(res.headers.get('x-elastic-product'), 'Elasticsearch', where);
          if (res.status >= 400) {
            // Elasticsearch answers a pipeline id that names nothing with 404 and {}.
            if (res.status === 404 && r.method === 'GET' && r.url.startsWith('/_ingest/pipeline')) {
              assert.deepEqual(res.body, {}, where);
              return;
            }
            const e = res.body?.error as Record<string, unknown> | undefined;
            assert.ok(e !== undefined && typeof e === 'object', where);
            assert.equal(typeof e.type, 'string', where);
            assert.equal(typeof e.reason, 'string', where);
            assert.ok(Array.isArray(e.root_cause) && e.root_cause.length === 1, where);
            assert.equal(res.body.status, res.status, where);
            if (res.status === 401) assert.match(res.headers.get('www-authenticate') ?? '', /ApiKey/, where);
          }
        },
      ),
      { numRuns: 1200 },
    );
    // Still serving.
    assert.equal((await esRaw(g, 'GET', '/')).status, 200);
  });
});
