import assert from 'node:assert/strict';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { reportCall } from '../../src/sdk/report-call.js';
import { startWorker } from '../../src/sdk/worker.js';

describe("the worker helper's calls to its report address (node:http, not fetch)", () => {
  let server: Server;
  let base = '';
  const seen: { method: string; type: string; body: string }[] = [];
  before(async () => {
    server = createServer((req: IncomingMessage, res) => {
      let body = '';
      req.setEncoding('utf8');
      req.on('data', (c: string) => (body += c));
      req.on('end', () => {
        seen.push({ method: req.method ?? '', type: req.headers['content-type'] ?? '', body });
        if (req.url === '/hang/') return; // never answers
        if (req.url === '/trickle/') {
          // A byte every 30 ms: never idle long, and never done within the bound.
          res.writeHead(200);
          const t = setInterval(() => (res.destroyed ? clearInterval(t) : res.write('.')), 30);
          return;
        }
        res.writeHead(req.url === '/missing/' ? 404 : 200, { 'content-type': 'text/plain' });
        res.end(req.url === '/pubkey/' ? '-----BEGIN PUBLIC KEY-----' : 'ok');
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(async () => {
    server.closeAllConnections();
    await new Promise((r) => server.close(r));
  });

  it('gets a text, and posts JSON with its content type', async () => {
    assert.deepEqual(await reportCall(`${base}/pubkey/`, { timeoutMs: 5000 }), { status: 200, text: '-----BEGIN PUBLIC KEY-----' });
    assert.deepEqual(await reportCall(`${base}/worker_status/`, { json: { id: 3, cur_load: 1.5 }, timeoutMs: 5000 }), { status: 200, text: 'ok' });
    assert.deepEqual(seen.at(-1), { method: 'POST', type: 'application/json', body: '{"id":3,"cur_load":1.5}' });
  });

  it('gives the status of an answer that is not a success (the caller decides)', async () => {
    assert.equal((await reportCall(`${base}/missing/`, { timeoutMs: 5000 })).status, 404);
  });

  it('gives up on an address that does not answer within its bound, and on one that refuses', async () => {
    await assert.rejects(reportCall(`${base}/hang/`, { timeoutMs: 100 }), /no answer from .* within 100 ms/);
    await assert.rejects(reportCall(`${base}/trickle/`, { timeoutMs: 200 }), /within 200 ms|aborted/, 'the bound is on the whole call, not on idleness');
    const closed = createServer();
    await new Promise<void>((r) => closed.listen(0, '127.0.0.1', r));
    const port = (closed.address() as AddressInfo).port;
    await new Promise((r) => closed.close(r));
    await assert.rejects(reportCall(`http://127.0.0.1:${port}/pubkey/`, { timeoutMs: 5000 }), /ECONNREFUSED/);
  });

  it('refuses a worker whose reportTimeoutMs is not a number of ms above 0 (it would make every call fail)', async () => {
    for (const reportTimeoutMs of [0, -1, Number.NaN, Number.POSITIVE_INFINITY]) {
      await assert.rejects(startWorker({ handle: async () => ({ body: '' }), unsecured: true, port: 0, reportTimeoutMs }), /reportTimeoutMs must be/);
    }
  });
});
