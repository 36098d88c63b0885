import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { Client } from 'undici';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { call, createDeployment, SERVERLESS_FAST, until, WORKER_ONSTART, workersOf } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

/**
 * `/endpoints/*` is served before the framework (src/api/edge/data-path.ts): the same answers as the
 * framework route, which still serves the URLs the data route declines; errors in Vast's shape; HTTP
 * metrics; and no cache outlives a change: a revoked key is refused on its next request, a stopped
 * endpoint refuses the next request.
 */
/** A deployment of one worker, once that worker is ready. */
async function servingDeployment(g: TestGantry, name: string): Promise<Awaited<ReturnType<typeof createDeployment>>> {
  const d = await createDeployment(g, name, { min_load: 1, max_workers: 1 });
  await until('a ready worker', async () => (await workersOf(g, d.endpointId)).find((w) => w.status === 'Ready'));
  return d;
}

for (const ts of ONE_STORE) {
  describe(`the serverless proxy's data path (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let d: { id: number; endpointId: number; key: string };
    const raw = (path: string, init: RequestInit = {}): Promise<Response> =>
      fetch(`${g.url}${path}`, { ...init, headers: { authorization: `Bearer ${g.adminKey ?? ''}`, ...(init.headers as Record<string, string>) } });
    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: SERVERLESS_FAST });
      d = await servingDeployment(g, 'fast');
    });
    after(() => g.dispose());

    it('forwards method, path, query and body, and drops the caller api_key from the query', async () => {
      const r = await call(g, 'fast', '/a/b?x=1&y=two', { body: 'ping' });
      assert.equal(r.status, 200);
      assert.deepEqual([r.body.path, r.body.echo], ['/a/b?x=1&y=two', 'ping']);
      const q = await fetch(`${g.url}/endpoints/fast/q?api_key=${d.key}&z=3`);
      assert.equal(q.status, 200);
      assert.equal(((await q.json()) as { path: string }).path, '/q?z=3', 'the key stays with Gantry');
      const bare = await call(g, 'fast', '');
      assert.equal(bare.body.path, '/', '/endpoints/{name} alone is the worker root');
    });

    it('answers URLs it declines through the framework route, with the same translation', async () => {
      // Doubled slashes are the framework's to normalise; an escape in the name is decoded by both.
      const odd = await raw('/endpoints//fast//x?k=1');
      assert.equal(odd.status, 200);
      assert.equal(((await odd.json()) as { path: string }).path, '/x?k=1');
      const escaped = await raw('/endpoints/f%61st/e');
      assert.equal(escaped.status, 200);
    });

    it("answers errors in Vast's shape", async () => {
      const missing = await call(g, 'nope', '/x');
      assert.equal(missing.status, 404);
      assert.deepEqual([missing.body.success, missing.body.code], [false, 'ENDPOINT_NOT_FOUND']);
      assert.equal(missing.headers.get('content-type'), 'application/json');
      const anon = await fetch(`${g.url}/endpoints/fast/x`);
      assert.equal(anon.status, 401);
      assert.equal(((await anon.json()) as { code: string }).code, 'UNAUTHENTICATED');
      const cost = await raw('/endpoints/fast/x', { headers: { 'x-gantry-cost': 'lots' } });
      assert.equal(cost.status, 400);
      assert.match(((await cost.json()) as { msg: string }).msg, /X-Gantry-Cost/);
      // Only decimal numbers: Number() alone reads hexadecimal, binary and octal too.
      for (const v of ['0x10', '0b1', '0o7', '1,5', '+1']) assert.equal((await raw('/endpoints/fast/x', { headers: { 'x-gantry-cost': v } })).status, 400, v);
      // The same in /route/'s cost, which Vast's clients may send as a string.
      for (const v of ['0x10', '0b1', '0o7']) assert.equal((await g.api('POST', '/route/', { endpoint: 'fast', cost: v })).status, 400, v);
      assert.equal((await g.api('POST', '/route/', { endpoint: 'fast', cost: '2' })).status, 200);
      // The connection survives an error answered before the body was read.
      const refused = await fetch(`${g.url}/endpoints/nope/x`, {
        method: 'POST',
        body: 'x'.repeat(100_000),
        headers: { authorization: `Bearer ${g.adminKey ?? ''}` },
      });
      assert.equal(refused.status, 404);
      assert.equal((await call(g, 'fast', '/after')).status, 200);
    });

    it('counts its requests in the HTTP metrics', async () => {
      const text = await (await fetch(`${g.url}/metrics`)).text();
      const ok = /gantry_http_requests_total\{dialect="serverless",code="2xx"\} (\d+)/.exec(text);
      assert.ok(ok !== null && Number(ok[1]) >= 3, text.slice(0, 400));
      assert.match(text, /gantry_http_requests_total\{dialect="serverless",code="4xx"\} [1-9]/);
    });

    it('a caller that leaves before a large answer frees the worker once it answered, not at the request timeout', async () => {
      const inFlight = async (): Promise<number> => (await g.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.requests_in_flight as number;
      const ac = new AbortController();
      // The worker echoes the body: 200 KB back, so the answer is relayed as a stream, not read whole.
      const sent = fetch(`${g.url}/endpoints/fast/w?ms=400`, {
        method: 'POST',
        body: 'x'.repeat(200_000),
        signal: ac.signal,
        headers: { authorization: `Bearer ${g.adminKey ?? ''}` },
      });
      await until('the request at the worker', async () => (await inFlight()) === 1);
      ac.abort();
      await sent.catch(() => undefined);
      await until('the worker free again', async () => (await inFlight()) === 0, 10_000);
    });

    it('serves the wire path and the framework on one connection: endpoint calls, an API call, then the framework for good', async () => {
      const c = new Client(g.url, { pipelining: 1 });
      const auth = { authorization: `Bearer ${g.adminKey ?? ''}` };
      try {
        for (let i = 0; i < 3; i++) {
          const r = await c.request({ method: 'POST', path: `/endpoints/fast/one?i=${i}`, headers: { ...auth, 'content-type': 'text/plain' }, body: `b${i}` });
          assert.equal(r.statusCode, 200);
          assert.deepEqual(((await r.body.json()) as { path: string; echo: string }).echo, `b${i}`);
        }
        const api = await c.request({ method: 'GET', path: '/api/v0/gpu_names/unique', headers: auth });
        assert.equal(api.statusCode, 200);
        await api.body.dump();
        const missing = await c.request({ method: 'GET', path: '/endpoints/nope/x', headers: auth });
        assert.equal(missing.statusCode, 404);
        assert.equal(((await missing.body.json()) as { code: string }).code, 'ENDPOINT_NOT_FOUND');
        const again = await c.request({ method: 'GET', path: '/endpoints/fast/two', headers: auth });
        assert.equal(again.statusCode, 200);
        assert.equal(((await again.body.json()) as { path: string }).path, '/two');
      } finally {
        await c.close();
      }
    });

    it("a worker's answer is never a page of the console's origin: sandboxed, nosniff, no origin-wide headers (wire path, data route, framework)", async () => {
      const auth = { authorization: `Bearer ${g.adminKey ?? ''}` };
      // A fresh connection is read by the wire path; one that carried an API call first is Node's server's for good (the data route).
      const [wire, node] = [new Client(g.url), new Client(g.url)];
      try {
        await (await node.request({ method: 'GET', path: '/api/v0/gpu_names/unique', headers: auth })).body.dump();
        const answers = [
          ['wire path', await wire.request({ method: 'GET', path: '/endpoints/fast/page?as=page', headers: auth })],
          ['data route', await node.request({ method: 'GET', path: '/endpoints/fast/page?as=page', headers: auth })],
          // Doubled slashes: the framework route.
          ['framework', await node.request({ method: 'GET', path: '/endpoints//fast//page?as=page', headers: auth })],
        ] as const;
        for (const [path, r] of answers) {
          assert.equal(r.statusCode, 200, path);
          assert.match(await r.body.text(), /serviceWorker/, `${path}: the worker's page itself`);
          assert.equal(r.headers['content-type'], 'text/html; charset=utf-8', `${path}: the worker's type is kept`);
          const csp = [r.headers['content-security-policy'] ?? []].flat();
          assert.ok(
            csp.some((p) => /(^|;\s*)sandbox(;|$)/.test(p)),
            `${path}: a sandbox, so its script never runs as this origin (the console's key is in its tabs): ${csp.join(' | ')}`,
          );
          assert.ok(csp.includes("frame-ancestors 'self'"), `${path}: the worker's own policy applies too`);
          assert.equal(r.headers['x-content-type-options'], 'nosniff', `${path}: only the first value counts, so never the worker's before it`);
          assert.equal(r.headers['service-worker-allowed'], undefined, `${path}: no service worker scope over the console`);
          assert.equal(r.headers['clear-site-data'], undefined, `${path}: the console's storage is not the worker's to clear`);
          // Nor the origin's cookies, error reports (every later URL with its key sent to the worker's collector) or HSTS.
          for (const h of ['set-cookie', 'nel', 'report-to', 'strict-transport-security']) assert.equal(r.headers[h], undefined, `${path}: ${h}`);
        }
      } finally {
        await Promise.all([wire.close(), node.close()]);
      }
    });

    it('a caller that leaves while its small request is at the worker frees the worker once it answered', async () => {
      const inFlight = async (): Promise<number> => (await g.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.requests_in_flight as number;
      const ac = new AbortController();
      const sent = fetch(`${g.url}/endpoints/fast/w?ms=400`, { signal: ac.signal, headers: { authorization: `Bearer ${g.adminKey ?? ''}` } });
      await until('the request at the worker', async () => (await inFlight()) === 1);
      ac.abort();
      await sent.catch(() => undefined);
      await until('the worker free again', async () => (await inFlight()) === 0, 10_000);
      assert.equal((await call(g, 'fast', '/after-leave')).status, 200);
    });

    it('callers that leave while their requests wait for a worker give up their places in the queue at once (wire path and framework), counted as CALLER_LEFT', async () => {
      const auth = { authorization: `Bearer ${g.adminKey ?? ''}` };
      const held = async (): Promise<[number, number]> => {
        const x = (await g.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment;
        return [x.queued_requests as number, x.requests_in_flight as number];
      };
      const left = async (): Promise<number> =>
        Number(/gantry_serverless_requests_total\{outcome="CALLER_LEFT"\} (\d+)/.exec(await (await fetch(`${g.url}/metrics`)).text())?.[1] ?? 0);
      const metrics = async (): Promise<string> => (await fetch(`${g.url}/metrics`)).text();
      const answered4xx = async (): Promise<number> =>
        Number(/gantry_http_requests_total\{dialect="serverless",code="4xx"\} (\d+)/.exec(await metrics())?.[1] ?? 0);
      const before = await left();
      const before4xx = await answered4xx();
      // perf 2, max_queue_time 1: the worker takes two requests, the others wait in the gateway's queue.
      const busy = [call(g, 'fast', '/w?ms=8000'), call(g, 'fast', '/w?ms=8000')];
      await until('the worker busy', async () => (await held())[1] === 2);
      // One caller on a fresh connection (the wire path), one whose connection went to Node's server (an API call first).
      const [wire, framework] = [new Client(g.url), new Client(g.url)];
      const api = await framework.request({ method: 'GET', path: '/api/v0/gpu_names/unique', headers: auth });
      await api.body.dump();
      const ac = new AbortController();
      const waiting = [wire, framework].map((c) =>
        c.request({ method: 'GET', path: '/endpoints/fast/w', headers: auth, signal: ac.signal }).catch(() => undefined),
      );
      try {
        await until('two requests queued', async () => (await held())[0] === 2);
        ac.abort();
        await Promise.all(waiting);
        const [, inFlight] = await until('the queue empty', async () => {
          const h = await held();
          return h[0] === 0 ? h : null;
        });
        assert.equal(inFlight, 2, 'they left the queue while the worker was still busy, not once it had room');
        assert.equal(await left(), before + 2);
        // Neither was answered: 499 in the HTTP metrics, whichever path served it.
        await until('both counted as 4xx', async () => (await answered4xx()) === before4xx + 2);
      } finally {
        await Promise.all([wire.destroy(), framework.destroy()]);
      }
      assert.deepEqual(
        (await Promise.all(busy)).map((r) => r.status),
        [200, 200],
      );
    });

    it('a renamed endpoint is not found under its old name on the next request', async () => {
      // An endpoint of its own, with a workergroup: a deployment's endpoint keeps the deployment's name.
      const ep = await g.api('POST', '/api/v0/endptjobs/', {
        endpoint_name: 'renameme',
        min_load: 0,
        cold_workers: 0,
        min_workers: 0,
        max_workers: 1,
        target_util: 1,
      });
      assert.equal(ep.status, 200, ep.text);
      const wg = await g.api('POST', '/api/v0/workergroups/', {
        endpoint_id: ep.body.id,
        image: 'local/worker',
        onstart: WORKER_ONSTART,
        search_params: 'num_gpus=1',
      });
      assert.equal(wg.status, 200, wg.text);
      assert.equal((await call(g, 'renameme', '/x')).status, 200, 'answered (a worker from zero), so remembered by the gateway');
      assert.equal((await g.api('PUT', `/api/v0/endptjobs/${ep.body.id}/`, { endpoint_name: 'renamed' })).status, 200);
      assert.equal((await call(g, 'renameme', '/x')).status, 404);
      await g.api('DELETE', `/api/v0/endptjobs/${ep.body.id}/`);
    });

    it('refuses a revoked key on its next request, though it was just accepted', async () => {
      const k = await g.api('POST', '/api/v0/auth/apikeys/', { name: 'caller' });
      assert.equal(k.status, 200, k.text);
      assert.equal((await call(g, 'fast', '/x', { key: k.body.key })).status, 200);
      assert.equal((await g.api('DELETE', `/api/v0/auth/apikeys/${k.body.id}/`)).status, 200);
      const after = await call(g, 'fast', '/x', { key: k.body.key });
      assert.equal(after.status, 401, JSON.stringify(after.body));
    });

    it('refuses the next request once the endpoint is stopped, and serves again once started', async () => {
      assert.equal((await call(g, 'fast', '/x', { key: d.key })).status, 200);
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/stop/`)).status, 200);
      const stopped = await call(g, 'fast', '/x', { key: d.key });
      assert.equal(stopped.status, 503, JSON.stringify(stopped.body));
      assert.equal(stopped.body.code, 'ENDPOINT_STOPPED');
      await until('the stop to finish', async () => (await g.api('GET', `/api/v0/deployment/${d.id}/`)).body.deployment.gantry_status === 'stopped');
      assert.equal((await g.api('POST', `/api/v0/deployment/${d.id}/start/`)).status, 200);
      const again = await until('the endpoint to serve again', async () => {
        const r = await call(g, 'fast', '/x', { key: d.key });
        return r.status === 200 ? r : undefined;
      });
      assert.equal(again.status, 200);
    });
  });
}

for (const ts of ONE_STORE) {
  describe(`the serverless proxy with the wire path off (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '1x RTX 4090:24GB', settings: { ...SERVERLESS_FAST, proxyWirePath: false } });
      await servingDeployment(g, 'plain');
    });
    after(() => g.dispose());

    it("serves every request through Node's HTTP server, with the same answers", async () => {
      const r = await call(g, 'plain', '/a?x=1', { body: 'ping' });
      assert.equal(r.status, 200);
      assert.deepEqual([r.body.path, r.body.echo], ['/a?x=1', 'ping']);
      const missing = await call(g, 'nope', '/x');
      assert.deepEqual([missing.status, missing.body.code], [404, 'ENDPOINT_NOT_FOUND']);
    });
  });
}
