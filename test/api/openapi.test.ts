import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Validator } from '@seriousme/openapi-schema-validator';
import { routesOf } from '../../src/api/app.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

/** Fastify's `/a/:id` and `/a/*` as OpenAPI writes them: `/a/{id}`, `/a/{*}`. */
const openapiPath = (url: string): string => url.replace(/:(\w+)/g, '{$1}').replace(/\*/g, '{*}');

for (const ts of ONE_STORE) {
  describe(`discovering the API: /openapi.json, /docs, / (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let doc: {
      openapi: string;
      paths: Record<string, Record<string, { tags?: string[]; summary?: string; security?: unknown[] }>>;
      components: Record<string, any>;
    };

    before(async () => {
      g = await startTestGantry(ts, { localHost: false });
      const r = await g.api('GET', '/openapi.json', undefined, { key: null });
      assert.equal(r.status, 200, r.text);
      doc = r.body;
    });
    after(() => g.dispose());

    it('is a valid OpenAPI 3 document', async () => {
      const res = await new Validator().validate(structuredClone(doc));
      assert.equal(res.valid, true, JSON.stringify(res.errors, null, 1)?.slice(0, 2000));
      assert.match(doc.openapi, /^3\./);
    });

    it('lists every route the app serves, each method, with a summary and a tag', () => {
      const missing: string[] = [];
      for (const r of routesOf(g.app)) {
        // QUERY has no field of its own in OpenAPI 3.1: the document keeps it as `x-query`.
        const op = doc.paths[openapiPath(r.url)]?.[r.method === 'QUERY' ? 'x-query' : r.method.toLowerCase()];
        if (op === undefined) missing.push(`${r.method} ${r.url}`);
        else if (!op.summary || (op.tags ?? []).length === 0) missing.push(`${r.method} ${r.url} (no summary or tag)`);
      }
      assert.deepEqual(missing, []);
      assert.ok(routesOf(g.app).length > 100);
    });

    it("names each dialect's credentials; open routes need none", () => {
      const schemes = doc.components.securitySchemes as Record<string, { type: string; scheme?: string; in?: string; name?: string }>;
      assert.equal(schemes.vastBearer?.scheme, 'bearer');
      assert.equal(schemes.vastApiKeyQuery?.in, 'query');
      assert.equal(schemes.vastApiKeyQuery?.name, 'api_key');
      assert.equal(schemes.aicoreOAuth?.type, 'oauth2');
      assert.equal(schemes.elasticBasic?.scheme, 'basic');
      const sec = (path: string, m: string): unknown => doc.paths[path]?.[m]?.security;
      assert.deepEqual(sec('/api/v0/instances', 'get'), [{ vastBearer: [] }, { vastApiKeyQuery: [] }]);
      assert.deepEqual(sec('/v2/lm/deployments', 'get'), [{ aicoreOAuth: [] }, { aicoreBearer: [] }]);
      assert.deepEqual(sec('/_ml/trained_models', 'get'), [{ elasticApiKey: [] }, { elasticBasic: [] }, { elasticBearer: [] }]);
      assert.deepEqual(sec('/healthz', 'get'), []);
      assert.deepEqual(sec('/oauth/token', 'post'), [{ aicoreClient: [] }]);
      assert.deepEqual(sec('/route', 'post'), [{ vastBearer: [] }, { vastApiKeyQuery: [] }]);
      assert.deepEqual(sec('/worker_status', 'post'), []);
      assert.deepEqual(doc.paths['/api/v0/instances']?.get?.tags, ['Vast.ai']);
      assert.deepEqual(doc.paths['/v2/lm/deployments']?.get?.tags, ['SAP AI Core']);
    });

    it('/docs answers the reference page without a key, its assets served locally', async () => {
      const page = await g.api('GET', '/docs', undefined, { key: null });
      assert.equal(page.status, 200);
      assert.match(page.contentType ?? '', /text\/html/);
      assert.match(page.text, /swagger/i);
      assert.doesNotMatch(page.text, /https?:\/\/(?!localhost)[^"']*\.js/);
      const init = await g.api('GET', '/docs/static/swagger-initializer.js', undefined, { key: null });
      assert.equal(init.status, 200);
    });

    it('/ answers an index without a key; Elasticsearch clients with a key still get cluster info', async () => {
      const r = await g.api('GET', '/', undefined, { key: null });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.name, 'gantry');
      assert.match(r.body.version, /^\d+\.\d+\.\d+/);
      assert.deepEqual(r.body.links, { console: '/console/', docs: '/docs', openapi: '/openapi.json', healthz: '/healthz', metrics: '/metrics' });
      assert.deepEqual(r.body.dialects.vast.basePaths.slice(0, 1), ['/api']);
      assert.ok(r.body.dialects.aicore.basePaths.includes('/v2'));
      assert.ok(r.body.dialects.elastic.basePaths.includes('/_ml'));
      const es = await g.api('GET', '/');
      assert.equal(es.status, 200);
      assert.equal(es.body.tagline, 'You Know, for Search');
    });
  });
}
