import assert from 'node:assert/strict';
import { mkdtemp, mkdir, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { connect } from 'node:net';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import Fastify, { type FastifyInstance } from 'fastify';
import { Client } from 'undici';
import { registerConsoleStatic } from '../../src/api/edge/console-static.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

/** The web console's files at /console/ (src/api/edge/console-static.ts), and the way a browser gets there from `/`. */
describe('the console static files', () => {
  let dir: string;
  let app: FastifyInstance;
  let empty: FastifyInstance;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'gantry-console-'));
    await mkdir(join(dir, 'web'));
    await writeFile(join(dir, 'web', 'index.html'), '<!doctype html><title>t</title>');
    await writeFile(join(dir, 'web', 'app.js'), 'console.log(1)');
    await writeFile(join(dir, 'web', 'app.css'), 'body{}');
    await writeFile(join(dir, 'secret.txt'), 'not served');
    app = Fastify({ routerOptions: { ignoreTrailingSlash: true } });
    registerConsoleStatic(app, join(dir, 'web'));
    empty = Fastify();
    registerConsoleStatic(empty, join(dir, 'nothing'));
  });
  after(async () => {
    await app.close();
    await empty.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('serves index.html revalidated on every load, the other files cacheable, each with its content type', async () => {
    const page = await app.inject({ method: 'GET', url: '/console/' });
    assert.equal(page.statusCode, 200);
    assert.equal(page.headers['content-type'], 'text/html; charset=utf-8');
    assert.equal(page.headers['cache-control'], 'no-cache');
    const js = await app.inject({ method: 'GET', url: '/console/app.js?v=abc' });
    assert.equal(js.statusCode, 200);
    assert.equal(js.headers['content-type'], 'text/javascript; charset=utf-8');
    assert.match(String(js.headers['cache-control']), /max-age=\d+/);
    const css = await app.inject({ method: 'HEAD', url: '/console/app.css' });
    assert.equal(css.statusCode, 200);
    assert.equal(css.headers['content-type'], 'text/css; charset=utf-8');
  });

  it('every answer carries a CSP of its own origin only, no framing and no Referer', async () => {
    for (const [server, url] of [
      [app, '/console/'],
      [app, '/console/app.js'],
      [app, '/console/nope.js'],
      [empty, '/console/'],
    ] as const) {
      const r = await server.inject({ method: 'GET', url });
      const csp = String(r.headers['content-security-policy']);
      assert.match(csp, /default-src 'none'/, url);
      assert.match(csp, /script-src 'self'(;|$)/, `${url}: no inline script: ${csp}`);
      assert.match(csp, /style-src 'self'(;|$)/, `${url}: no inline style: ${csp}`);
      assert.match(csp, /connect-src 'self'/, url);
      assert.match(csp, /frame-ancestors 'none'/, url);
      assert.equal(r.headers['x-frame-options'], 'DENY', url);
      assert.equal(r.headers['referrer-policy'], 'no-referrer', url);
      assert.equal(r.headers['x-content-type-options'], 'nosniff', url);
    }
  });

  it('serves nothing outside its folder, and only GET and HEAD', async () => {
    for (const url of [
      '/console/../secret.txt',
      '/console/%2e%2e/secret.txt',
      '/console/..%2fsecret.txt',
      '/console/.%2e/secret.txt',
      '/console/nope.js',
      '/console//etc/passwd',
    ]) {
      const r = await app.inject({ method: 'GET', url });
      assert.notEqual(r.statusCode, 200, url);
      assert.doesNotMatch(r.body, /not served/, url);
    }
    const post = await app.inject({ method: 'POST', url: '/console/app.js' });
    assert.equal(post.statusCode, 404);
  });

  it('without a build, answers 503 with a page saying to run npm run build', async () => {
    const r = await empty.inject({ method: 'GET', url: '/console/' });
    assert.equal(r.statusCode, 503);
    assert.match(r.body, /npm run build/);
  });
});

for (const ts of ONE_STORE) {
  describe(`the console in a running server (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, { localHost: false });
    });
    after(() => g.dispose());

    it('a browser at / is sent to /console/; the API index and Elasticsearch with a credential stay', async () => {
      const browser = await fetch(`${g.url}/`, { headers: { accept: 'text/html,application/xhtml+xml' }, redirect: 'manual' });
      assert.equal(browser.status, 302);
      assert.equal(browser.headers.get('location'), '/console/');
      const index = await g.api('GET', '/', undefined, { key: null });
      assert.equal(index.body.links.console, '/console/');
      const es = await g.api('GET', '/');
      assert.equal(typeof es.body.cluster_name, 'string', es.text);
    });

    it('serves the built console without a key; a console API path no route serves is a 404 in the console shape', async () => {
      const page = await g.api('GET', '/console/', undefined, { key: null });
      assert.equal(page.status, 200);
      assert.match(page.text, /<script type="module" src="\/console\/app\.js\?v=[0-9a-f]+"/);
      assert.match(String(page.headers.get('content-security-policy')), /frame-ancestors 'none'/);
      // The built page has no inline script or style the CSP would refuse (the browser tests run it under the CSP).
      assert.doesNotMatch(page.text, /<script(?![^>]*\bsrc=)[^>]*>|<style|\sstyle=/);
      const nope = await g.api('GET', '/console/api/nope');
      assert.equal(nope.status, 404);
      assert.equal(nope.body.error.code, 'NOT_FOUND');
      const session = await g.api('GET', '/console/api/session');
      assert.equal(session.status, 200, session.text);
      assert.equal(session.headers.get('x-frame-options'), 'DENY');
      assert.match(String(session.headers.get('content-security-policy')), /default-src 'none'; frame-ancestors 'none'/);
    });

    it("every answer on the console's origin says nosniff: each dialect's, errors, refused URLs, the data path's", async () => {
      // A log's raw text (the Vast results URL, fetched without a key) is a tenant's bytes: never read as a page of this origin.
      const paths = [
        ['GET', '/healthz'],
        ['GET', '/api/v0/users/current/'],
        ['GET', '/api/v0/results/nope'],
        ['GET', '/nope'],
        ['GET', '/api/v0/instances/%ZZ/'],
        ['GET', '/endpoints/nope/x'],
        ['GET', '/v2/lm/scenarios'],
        ['GET', '/_ml/trained_models'],
        ['GET', '/openapi.json'],
        ['DELETE', '/healthz'],
      ] as const;
      for (const [method, path] of paths) {
        const r = await g.api(method, path);
        assert.equal(r.headers.get('x-content-type-options'), 'nosniff', `${method} ${path} (${r.status})`);
      }
      // The wire path's own error answer, on a fresh connection.
      const wire = new Client(g.url);
      try {
        const r = await wire.request({ method: 'GET', path: '/endpoints/nope/x', headers: { authorization: `Bearer ${g.adminKey ?? ''}` } });
        await r.body.dump();
        assert.equal(r.statusCode, 404);
        assert.equal(r.headers['x-content-type-options'], 'nosniff', 'the wire path');
      } finally {
        await wire.close();
      }
      // The console's event stream, written on a hijacked socket.
      const events = new AbortController();
      const sse = await fetch(`${g.url}/console/api/events`, { headers: { authorization: `Bearer ${g.adminKey ?? ''}` }, signal: events.signal });
      assert.equal(sse.headers.get('content-type'), 'text/event-stream; charset=utf-8');
      assert.equal(sse.headers.get('x-content-type-options'), 'nosniff', 'the event stream');
      events.abort();
      // A request Node's parser refuses, outside every dialect's paths.
      const raw = await new Promise<string>((resolve, reject) => {
        const c = connect(Number(new URL(g.url).port), '127.0.0.1', () => c.end('GET /nope HTTP/1.1\r\nHost: x\r\nbad header\r\n\r\n'));
        let got = '';
        c.on('data', (d: Buffer) => (got += d.toString()));
        c.on('close', () => resolve(got));
        c.on('error', reject);
      });
      assert.match(raw, /^HTTP\/1\.1 400/);
      assert.match(raw, /\r\nx-content-type-options: nosniff\r\n/i, raw);
    });
  });
}
