import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Deployment, GantryApiError, GantryClient, GantryTimeoutError, WaitTimeoutError } from '../../src/sdk/index.js';

/**
 * The SDK's own time limits, against a stand-in server: a request the server never answers fails after the
 * client's `timeoutMs` naming its URL (undici alone waited 300 s); `waitFor` running out is its own error,
 * not a 504 the server never sent; what is slow on purpose (an upload, a call given its own bound) is not cut.
 */
const dir = mkdtempSync(join(tmpdir(), 'gantry-sdk-timeouts-'));
const entry = join(dir, 'main.mjs');
writeFileSync(entry, 'export {};\n');

let server: Server;
let url: string;
const json = (res: ServerResponse, v: unknown): void => void res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(v));

function answer(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '';
  if (path === '/api/v0/instances/' || path.startsWith('/silent/')) return; // never answered
  if (path === '/api/v0/instances/5/') return json(res, { instances: { id: 5, actual_status: 'loading' } });
  if (req.method === 'PUT' && path === '/api/v0/instances/request_logs/5/') return json(res, { success: true, result_url: `${url}/logs-never` });
  if (path === '/logs-never') return void res.writeHead(404, { 'content-type': 'application/json' }).end('{"error":"not_found","msg":"not there yet"}');
  if (path === '/slow') return void setTimeout(() => json(res, { ok: true }), 300);
  if (req.method === 'PUT' && path === '/api/v0/deployments/')
    return json(res, {
      action: 'create',
      deployment_id: 7,
      endpoint_id: 8,
      workergroup_id: 9,
      upload_url: `${url}/upload`,
      upload_fields: { token: 't' },
    });
  // The upload takes longer than the deployment's requestTimeoutMs: it is not cut by it.
  if (path === '/upload') return void setTimeout(() => res.writeHead(204).end(), 1_500);
  res.writeHead(404).end();
}

before(async () => {
  server = createServer((req, res) => {
    req.resume();
    req.on('end', () => answer(req, res));
  });
  await new Promise<void>((ok) => server.listen(0, '127.0.0.1', ok));
  url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
after(() => {
  server.closeAllConnections();
  server.close();
  rmSync(dir, { recursive: true, force: true });
});

describe('GantryClient timeoutMs', { timeout: 20_000 }, () => {
  it('a request with no answer fails after timeoutMs, naming the URL and the bound', async () => {
    const err = await new GantryClient({ url, apiKey: 'k', timeoutMs: 200 }).listInstances().catch((e: unknown) => e);
    assert.ok(err instanceof GantryTimeoutError, String(err));
    assert.equal(err.url, `${url}/api/v0/instances/`);
    assert.equal(err.timeoutMs, 200);
    assert.match(err.message, new RegExp(`^GET ${url}/api/v0/instances/: no answer within timeoutMs \\(200 ms\\)`));
  });

  it('a call given its own bound (or none) is not cut by the default', async () => {
    const c = new GantryClient({ url, apiKey: 'k', timeoutMs: 100 });
    await assert.rejects(c.request('GET', '/slow'), GantryTimeoutError);
    assert.deepEqual(await c.request('GET', '/slow', undefined, {}, { timeoutMs: null }), { ok: true });
    assert.deepEqual(await c.request('GET', '/slow', undefined, {}, { timeoutMs: 5_000 }), { ok: true });
  });

  it('a bound that is no positive number is refused at construction', () => {
    assert.throws(() => new GantryClient({ url, apiKey: 'k', timeoutMs: 0 }), RangeError);
    assert.throws(() => new GantryClient({ url, apiKey: 'k', timeoutMs: Number.NaN }), RangeError);
  });
});

describe('waitFor', { timeout: 20_000 }, () => {
  it('running out of its own time is a WaitTimeoutError with the last row, not an HTTP status', async () => {
    const err = await new GantryClient({ url, apiKey: 'k' })
      .waitFor(5, (r) => r.actual_status === 'running', { timeoutMs: 150, intervalMs: 20 })
      .catch((e: unknown) => e);
    assert.ok(err instanceof WaitTimeoutError, String(err));
    assert.ok(!(err instanceof GantryApiError));
    assert.equal(err.instanceId, 5);
    assert.equal(err.timeoutMs, 150);
    assert.equal(err.lastRow.actual_status, 'loading');
    assert.equal(err.message, 'instance 5 did not reach the wanted state within 150 ms (now loading)');
  });
});

describe('logs', { timeout: 20_000 }, () => {
  it('a log result that never becomes ready fails with the status its URL answered, not an invented 504', async () => {
    const err = await new GantryClient({ url, apiKey: 'k' }).logs(5).catch((e: unknown) => e);
    assert.ok(err instanceof GantryApiError, String(err));
    assert.equal(err.status, 404);
    assert.equal(err.error, 'not_found');
  });
});

describe('Deployment requestTimeoutMs', { timeout: 20_000 }, () => {
  it('bounds the API requests but not the code upload', async () => {
    // The upload takes longer than the bound; the API request the server never answers fails at it.
    const app = new Deployment({ name: 'slowup', url, apiKey: 'k', entry, requestTimeoutMs: 1_000 });
    app.image('node:20', 8);
    const r = await app.ensureReady();
    assert.equal(r.uploaded, true);
    const silent = new Deployment({ name: 'silent', url: `${url}/silent`, apiKey: 'k', entry, requestTimeoutMs: 1_000 });
    silent.image('node:20', 8);
    const err = await silent.ensureReady().catch((e: unknown) => e);
    assert.ok(err instanceof GantryTimeoutError, String(err));
    assert.equal(err.timeoutMs, 1_000);
  });
});
