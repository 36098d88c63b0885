import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client, errors } from '@elastic/elasticsearch';
import { patternToRegExp } from '../../src/api/edge/allowed-methods.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/** A known path asked with a method it is not served with: 405 with `Allow`, in each dialect's error shape; unknown paths stay 404 (400 in Elasticsearch). */
describe('method not allowed', () => {
  it('reads fastify route patterns', () => {
    assert.ok(patternToRegExp('/api/v0/instances/:id').test('/api/v0/instances/12'));
    assert.ok(!patternToRegExp('/api/v0/instances/:id').test('/api/v0/instances/12/x'));
    assert.ok(patternToRegExp('/a/:id(^\\d+)/b').test('/a/7/b'));
    assert.ok(patternToRegExp('/a/:from-:to').test('/a/1-2'));
    assert.ok(patternToRegExp('/endpoints/:name/*').test('/endpoints/e/a/b'));
    assert.ok(patternToRegExp('/x::y').test('/x:y'));
    assert.ok(patternToRegExp('/v2/lm/deployments/').test('/v2/lm/deployments'));
    assert.ok(!patternToRegExp('/a.b').test('/aXb'));
  });

  const sqlite = TEST_STORES.find((s) => s.name === 'sqlite');
  describe('over HTTP', { skip: sqlite?.skip ?? 'no sqlite' }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(sqlite!, { localHost: false });
    });
    after(() => g.dispose());

    it('Vast: 405 with Allow and Vast body', async () => {
      const r = await g.api('PATCH', '/api/v0/instances/12/');
      assert.equal(r.status, 405, r.text);
      assert.equal(r.body.success, false);
      assert.equal(r.body.error, 'method_not_allowed');
      assert.equal(r.body.code, 'METHOD_NOT_ALLOWED');
      const allow = (r.headers.get('allow') ?? '').split(', ');
      for (const m of ['GET', 'HEAD', 'PUT', 'DELETE']) assert.ok(allow.includes(m), `${m} in ${allow.join(',')}`);
      assert.equal((await g.api('GET', '/api/v0/no-such-thing/')).status, 404);
      // OPTIONS says what a served path takes.
      const options = await g.api('OPTIONS', '/api/v0/instances/12/');
      assert.equal(options.status, 200, options.text);
      assert.match(options.headers.get('allow') ?? '', /GET/);
    });

    it('AI Core: 405 in its error shape', async () => {
      const r = await g.api('PATCH', '/v2/lm/scenarios', undefined, { headers: { 'ai-resource-group': 'default' } });
      assert.equal(r.status, 405, r.text);
      assert.equal(r.body.error.code, 'METHOD_NOT_ALLOWED');
      assert.equal(r.body.error.target, '/v2/lm/scenarios');
      assert.match(r.headers.get('allow') ?? '', /GET/);
    });

    it('Elasticsearch: the real client sees 405 with its reason', async () => {
      const es = new Client({ node: g.url, auth: { apiKey: String(g.adminKey) }, maxRetries: 0 });
      try {
        await assert.rejects(es.transport.request({ method: 'GET', path: '/_ml/trained_models/m/_infer' }), (e: unknown) => {
          assert.ok(e instanceof errors.ResponseError);
          assert.equal(e.statusCode, 405);
          const body = e.body as { error: { type: string; reason: string } };
          assert.equal(body.error.type, 'illegal_argument_exception');
          assert.equal(body.error.reason, 'Incorrect HTTP method for uri [/_ml/trained_models/m/_infer] and method [GET], allowed: [POST]');
          assert.equal(e.headers?.allow, 'POST');
          return true;
        });
        // An unknown path stays Elasticsearch's "no handler found", a 400.
        await assert.rejects(
          es.transport.request({ method: 'GET', path: '/_ml/nothing/here' }),
          (e: unknown) => (e as errors.ResponseError).statusCode === 400,
        );
      } finally {
        await es.close();
      }
    });
  });
});
