import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { Client, errors } from '@elastic/elasticsearch';
import { esClient, esRaw } from '../helpers/elastic.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

const b64 = (s: string): string => Buffer.from(s, 'utf8').toString('base64');
const VND = 'application/vnd.elasticsearch+json; compatible-with=9';

/** The Elasticsearch dialect's transport: the root, the product header, credentials, media types and error bodies. */
for (const ts of TEST_STORES) {
  describe(`elastic transport (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let key: string;
    let keyId: number;
    let noScopes: string;

    before(async () => {
      g = await startTestGantry(ts, { localHost: false });
      key = g.adminKey as string;
      const made = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'es' });
      assert.equal(made.status, 200, made.text);
      keyId = made.body.id as number;
      const none = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'no scopes', permissions: { api: {} } });
      assert.equal(none.status, 200, none.text);
      noScopes = none.body.key as string;
    });
    after(() => g.dispose());

    it('client.info() reads the cluster info of a 9.x cluster; the uuid is stable', async () => {
      const c = esClient(g);
      const info = await c.info();
      assert.equal(info.tagline, 'You Know, for Search');
      assert.equal(info.version.number, '9.1.0');
      assert.equal(info.version.build_flavor, 'default');
      assert.equal(info.version.build_snapshot, false);
      for (const f of [
        'build_type',
        'build_hash',
        'build_date',
        'lucene_version',
        'minimum_wire_compatibility_version',
        'minimum_index_compatibility_version',
      ] as const) {
        assert.equal(typeof info.version[f], 'string', f);
      }
      assert.equal(typeof info.name, 'string');
      assert.equal(typeof info.cluster_name, 'string');
      assert.match(info.cluster_uuid, /^[A-Za-z0-9_-]{22}$/);
      assert.equal((await c.info()).cluster_uuid, info.cluster_uuid);
      assert.equal(await c.ping(), true);
      await c.close();
    });

    it('x-elastic-product on every reply: root, HEAD, errors, 401s and unknown URLs', async () => {
      for (const [method, path, auth] of [
        ['GET', '/', undefined],
        ['HEAD', '/', undefined],
        ['GET', '/_ml/trained_models', undefined],
        ['GET', '/_ml/trained_models/missing', undefined],
        ['GET', '/_ml/nothing/here', undefined],
        ['GET', '/_ingest/nothing', undefined],
        ['GET', '/', null],
        ['GET', '/_ml/trained_models', null],
      ] as const) {
        const r = await esRaw(g, method, path, { auth });
        assert.equal(r.headers.get('x-elastic-product'), 'Elasticsearch', `${method} ${path} (${r.status})`);
      }
    });

    it('an unknown URL is 400 "no handler found", as Elasticsearch answers it', async () => {
      const r = await esRaw(g, 'GET', '/_ml/nothing/here');
      assert.equal(r.status, 400);
      assert.equal(r.body.status, 400);
      assert.equal(r.body.error.type, 'illegal_argument_exception');
      assert.equal(r.body.error.reason, 'no handler found for uri [/_ml/nothing/here] and method [GET]');
      assert.deepEqual(r.body.error.root_cause, [{ type: 'illegal_argument_exception', reason: r.body.error.reason }]);
      const post = await esRaw(g, 'POST', '/_ingest/nothing', { contentType: VND, body: '' });
      assert.equal(post.status, 400);
      assert.match(post.body.error.reason, /no handler found for uri \[\/_ingest\/nothing\] and method \[POST\]/);
    });

    it('a query parameter the route does not define is 400, as Elasticsearch answers it (a misspelt timeout is no default)', async () => {
      const r = await esRaw(g, 'GET', '/_ingest/pipeline/x?bogus=1');
      assert.equal(r.status, 400, r.text);
      assert.equal(r.body.error.type, 'illegal_argument_exception');
      assert.equal(r.body.error.reason, 'request [/_ingest/pipeline/x] contains unrecognized parameter: [bogus]');
      const typo = await esRaw(g, 'POST', '/_ml/trained_models/m/_infer?timout=1s&pretty', { contentType: 'application/json', body: '{"docs":[]}' });
      assert.equal(typo.status, 400, typo.text);
      assert.match(typo.body.error.reason, /unrecognized parameter: \[timout\]/);
      // Elasticsearch's own parameters, and those every route takes, are not refused for being there.
      for (const path of ['/_ml/trained_models?size=5&from=0&allow_no_match=true&pretty&filter_path=x', '/_ingest/pipeline?summary=true&human'])
        assert.equal((await esRaw(g, 'GET', path)).status, 200, path);
      // Without a credential the caller hears that first, not what the route takes.
      assert.equal((await esRaw(g, 'GET', '/_ingest/pipeline/x?bogus=1', { auth: null })).status, 401);
    });

    it('only GET / and HEAD / are claimed at the root: other paths keep the fallback dialect', async () => {
      const vast = await esRaw(g, 'GET', '/nothing-here');
      assert.equal(vast.status, 404);
      assert.equal(vast.headers.get('x-elastic-product'), null);
      // The root is served with GET and HEAD only: another method is the fallback dialect's 405.
      const post = await esRaw(g, 'POST', '/', { contentType: 'application/json', body: '{}' });
      assert.equal(post.status, 405);
      assert.equal(post.headers.get('allow'), 'GET, HEAD');
      assert.equal(post.headers.get('x-elastic-product'), null);
      assert.equal((await esRaw(g, 'GET', '/api/v0/nothing')).headers.get('x-elastic-product'), null);
    });

    it('takes a Gantry key as ApiKey (raw or base64(id:key)), Basic (password) and Bearer', async () => {
      for (const auth of [
        `ApiKey ${key}`,
        `ApiKey ${b64(`${keyId}:${key}`)}`,
        `ApiKey ${b64(`anything:${key}`)}`,
        `Basic ${b64(`elastic:${key}`)}`,
        `Basic ${b64(`:${key}`)}`,
        `Bearer ${key}`,
        `apikey ${key}`,
      ]) {
        const r = await esRaw(g, 'GET', '/_ml/trained_models', { auth });
        assert.equal(r.status, 200, `${auth.split(' ')[0]}: ${r.text}`);
        assert.deepEqual(r.body, { count: 0, trained_model_configs: [] });
      }
      for (const auth of [{ apiKey: { id: String(keyId), api_key: key } }, { username: 'elastic', password: key }, { bearer: key }, { apiKey: key }]) {
        const c = new Client({ node: g.url, auth, maxRetries: 0 });
        assert.equal((await c.ml.getTrainedModels()).count, 0);
        await c.close();
      }
    });

    it('no or a wrong credential: 401 security_exception with WWW-Authenticate naming ApiKey', async () => {
      for (const auth of [null, 'ApiKey gnt_wrong', `Basic ${b64('u:gnt_wrong')}`, 'Bearer nope', `Basic ${b64('no-colon')}`, 'Negotiate abc']) {
        const r = await esRaw(g, 'GET', '/_ml/trained_models', { auth });
        assert.equal(r.status, 401, String(auth));
        assert.equal(r.body.status, 401);
        assert.equal(r.body.error.type, 'security_exception');
        assert.match(r.headers.get('www-authenticate') ?? '', /ApiKey/);
      }
      const c = new Client({ node: g.url, auth: { apiKey: 'gnt_wrong' }, maxRetries: 0 });
      await assert.rejects(c.info(), (e: unknown) => e instanceof errors.ResponseError && e.meta.statusCode === 401);
      await c.close();
    });

    it('a key without the scope: 403 security_exception naming the scope', async () => {
      const r = await esRaw(g, 'GET', '/_ml/trained_models', { auth: `ApiKey ${noScopes}` });
      assert.equal(r.status, 403);
      assert.equal(r.body.error.type, 'security_exception');
      assert.match(r.body.error.reason, /misc/);
    });

    it('reads JSON bodies as application/json and vnd.elasticsearch+json (8 or 9), empty bodies included', async () => {
      const pipeline = JSON.stringify({ processors: [{ inference: { model_id: 'm' } }] });
      for (const ct of [
        'application/json',
        VND,
        'application/vnd.elasticsearch+json; compatible-with=8',
        'application/vnd.elasticsearch+json;compatible-with=9',
      ]) {
        const r = await esRaw(g, 'PUT', '/_ingest/pipeline/ct', { contentType: ct, body: pipeline });
        assert.equal(r.status, 200, `${ct}: ${r.text}`);
        assert.deepEqual(r.body, { acknowledged: true });
      }
      // An empty body under either type is no body: the route answers, not the parser.
      for (const ct of ['application/json', VND]) {
        const del = await esRaw(g, 'DELETE', '/_ml/trained_models/none', { contentType: ct, body: '' });
        assert.equal(del.status, 404, del.text);
        assert.equal(del.body.error.type, 'resource_not_found_exception');
        const get = await esRaw(g, 'GET', '/_ml/trained_models', { contentType: ct });
        assert.equal(get.status, 200, get.text);
        const put = await esRaw(g, 'PUT', '/_ingest/pipeline/empty', { contentType: ct, body: '' });
        assert.equal(put.status, 400, put.text);
        assert.match(put.body.error.reason, /body is required/);
      }
      const v7 = await esRaw(g, 'PUT', '/_ingest/pipeline/ct', { contentType: 'application/vnd.elasticsearch+json; compatible-with=7', body: pipeline });
      assert.equal(v7.status, 400);
      assert.equal(v7.body.error.type, 'media_type_header_exception');
      const broken = await esRaw(g, 'PUT', '/_ingest/pipeline/ct', { contentType: VND, body: '{"processors": [' });
      assert.equal(broken.status, 400);
      assert.equal(broken.body.error.type, 'x_content_parse_exception');
    });

    it('errors reach the client as ResponseError with the status and the ES body', async () => {
      const c = esClient(g);
      await assert.rejects(c.ml.getTrainedModels({ model_id: 'missing' }), (e: unknown) => {
        assert.ok(e instanceof errors.ResponseError);
        assert.equal(e.meta.statusCode, 404);
        assert.equal(e.body.error.type, 'resource_not_found_exception');
        assert.equal(e.body.error.reason, 'No known trained model with model_id [missing]');
        return true;
      });
      await c.close();
    });

    it("a body cut short (fewer bytes than its Content-Length) is answered in the shape of its path's dialect", async () => {
      // The head arrives in a packet of its own, so Node's parser refuses the request with no request line in hand.
      const cutShort = (path: string, method = 'POST'): Promise<{ status: number; headers: string; body: any }> =>
        new Promise((resolve, reject) => {
          const s = connect(Number(new URL(g.url).port), '127.0.0.1');
          let out = '';
          s.on('data', (b: Buffer) => (out += b.toString('utf8')));
          s.on('error', reject);
          s.on('close', () => {
            const at = out.indexOf('\r\n\r\n');
            resolve({ status: Number(out.slice(9, 12)), headers: out.slice(0, at).toLowerCase(), body: JSON.parse(out.slice(at + 4)) });
          });
          s.write(
            `${method} ${path} HTTP/1.1\r\nhost: x\r\nauthorization: Bearer ${key}\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n`,
            () => setTimeout(() => s.end('{"number_of_allocations":'), 50),
          );
        });
      for (const [path, method] of [
        ['/_ml/trained_models/m/deployment/_start', 'POST'],
        ['/_ingest/pipeline/p', 'PUT'],
      ]) {
        const r = await cutShort(path as string, method);
        assert.equal(r.status, 400, JSON.stringify(r.body));
        assert.match(r.headers, /\r\nx-elastic-product: elasticsearch/);
        assert.equal(r.body.status, 400);
        assert.equal(r.body.error.type, 'x_content_parse_exception');
        assert.equal(r.body.error.root_cause[0].type, 'x_content_parse_exception');
      }
      const aicore = await cutShort('/v2/lm/deployments');
      assert.equal(aicore.status, 400);
      assert.equal(aicore.body.error.code, 'INVALID_JSON');
      assert.equal(aicore.body.error.target, '/v2/lm/deployments');
      const vast = await cutShort('/api/v0/instances/');
      assert.equal(vast.status, 400);
      assert.equal(vast.body.success, false);
    });

    it('a request answered before its body arrived (a 401), then cut short, has that one answer: no second on the connection', async () => {
      const out = await new Promise<string>((resolve, reject) => {
        const s = connect(Number(new URL(g.url).port), '127.0.0.1');
        let got = '';
        s.on('data', (b: Buffer) => {
          got += b.toString('utf8');
          // The 401 came while the body was still owed: now the body breaks off.
          if (got.includes('"status":401}')) s.end('{"number_of_allocations":');
        });
        s.on('error', reject);
        s.on('close', () => resolve(got));
        s.write('POST /_ml/trained_models/m/deployment/_start HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n');
      });
      assert.match(out, /^HTTP\/1\.1 401 /);
      assert.equal(out.split('HTTP/1.1 ').length - 1, 1, out);
    });
  });
}
