import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { CallTimeoutError, Deployment, GantryApiError, GantryClient, GantryConnectionError } from '../../src/sdk/index.js';

/**
 * How the Node deployments SDK and the client fail, against a stand-in server whose answers each test
 * chooses: `callTimeoutMs` bounds a call the gateway holds (no worker free) and one it keeps refusing
 * with 504 QUEUE_TIMEOUT; a server's refusal is a `GantryApiError` with its status and code; a server
 * that does not answer at all is a `GantryConnectionError` naming its URL, fetch's error as its cause.
 */
const dir = mkdtempSync(join(tmpdir(), 'gantry-code-calls-'));
const entry = join(dir, 'main.mjs');
writeFileSync(entry, 'export {};\n');

const vastError = (res: ServerResponse, status: number, code: string, msg: string): void => {
  res.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify({ success: false, error: 'x', msg, code }));
};

let server: Server;
let url: string;
/** Requests to `hold` the server never answered, and whether their caller went away. */
const held: { closed: boolean }[] = [];
let putRefused = false;
/** The deployment's `gantry_status` as its record shows it (`endpoint_state` reads stopped for both). */
let shownStatus: 'stopped' | 'failed' = 'stopped';
/** Calls of `nogroup` the server answered. */
let noGroupCalls = 0;

function answer(req: IncomingMessage, res: ServerResponse): void {
  const path = req.url ?? '';
  if (req.method === 'PUT' && path === '/api/v0/deployments/') {
    if (putRefused) return vastError(res, 400, 'INVALID_INPUT', "'storage' must be a positive number");
    res.writeHead(200, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ success: true, action: 'exists', deployment_id: 7, endpoint_id: 8, workergroup_id: 9 }));
  } else if (path === '/api/v0/deployment/7/') {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ deployment: { endpoint_state: 'stopped', gantry_status: shownStatus } }));
  } else if (path.endsWith('/remote/hold')) {
    // The gateway with no worker free: it keeps the request until its own queue timeout (60 s by default).
    const h = { closed: false };
    held.push(h);
    res.on('close', () => (h.closed = true));
  } else if (path.endsWith('/remote/queued')) {
    vastError(res, 504, 'QUEUE_TIMEOUT', 'No worker of this endpoint could take the request within 60s; it was not processed.');
  } else if (path.endsWith('/remote/stopped')) {
    vastError(res, 503, 'ENDPOINT_STOPPED', "Endpoint 'calls' is stopped; start it and try again.");
  } else if (path.endsWith('/remote/failing')) {
    // The gateway's words for a failed endpoint; the SDK reads the record, not these.
    vastError(res, 503, 'ENDPOINT_STOPPED', "The endpoint failed (its workers kept failing) and takes no requests; its owner sees why in its 'status_msg'.");
  } else if (path.endsWith('/remote/nogroup')) {
    noGroupCalls++;
    vastError(res, 503, 'NO_WORKERGROUP', 'The endpoint has no workergroup, so no worker can serve the request; create a workergroup first.');
  } else if (path.endsWith('/remote/denied')) {
    vastError(res, 403, 'PERMISSION_MISSING', 'This key may not call this endpoint.');
  } else if (path.endsWith('/remote/fine')) {
    res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify({ result: 42 }));
  } else vastError(res, 404, 'NOT_FOUND', 'no such route');
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

/** A deployment ready to call, with the remote functions the stand-in server knows. */
async function ready(callTimeoutMs: number) {
  const app = new Deployment({ name: 'calls', url, apiKey: 'k', entry, callTimeoutMs });
  app.image('node:20', 8);
  const fns = {
    hold: app.remote(async function hold() {}),
    queued: app.remote(async function queued() {}),
    stopped: app.remote(async function stopped() {}),
    failing: app.remote(async function failing() {}),
    denied: app.remote(async function denied() {}),
    nogroup: app.remote(async function nogroup() {}),
    fine: app.remote(async function fine(): Promise<number> {
      return 0;
    }),
  };
  await app.ensureReady();
  return fns;
}

/** A port nothing listens on (this process just let it go). */
async function closedPort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((ok) => s.listen(0, '127.0.0.1', ok));
  const port = (s.address() as AddressInfo).port;
  await new Promise((ok) => s.close(ok));
  return port;
}

describe('callTimeoutMs bounds a remote call', { timeout: 30_000 }, () => {
  it('gives up a call the gateway holds for want of a worker, and drops it there', async () => {
    const { hold, fine } = await ready(400);
    assert.equal(await fine(), 42);
    const err = await hold().then(
      () => assert.fail('answered'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CallTimeoutError, String(err));
    assert.equal(err.fn, 'hold');
    assert.equal(err.timeoutMs, 400);
    assert.match(err.message, /^hold\(\): no answer within callTimeoutMs \(400 ms\)/);
    // The request was aborted, not left waiting in the gateway's queue for a worker.
    await new Promise((ok) => setTimeout(ok, 100));
    assert.deepEqual(held, [{ closed: true }]);
  });

  it('retries 504 QUEUE_TIMEOUT until the deadline, then says so, the last refusal as its cause', async () => {
    const { queued } = await ready(600);
    const err = await queued().then(
      () => assert.fail('answered'),
      (e: unknown) => e,
    );
    assert.ok(err instanceof CallTimeoutError, String(err));
    const cause = err.cause;
    assert.ok(cause instanceof GantryApiError);
    assert.equal(cause.status, 504);
    assert.equal(cause.code, 'QUEUE_TIMEOUT');
    assert.match(err.message, /last answer: queued\(\): No worker of this endpoint/);
  });
});

describe("a deployment's refusals are GantryApiErrors", () => {
  it('a call refused: status, code and the function in the message, not the raw body', async () => {
    const { denied } = await ready(5_000);
    const err = await denied().catch((e: unknown) => e);
    assert.ok(err instanceof GantryApiError, String(err));
    assert.equal(err.status, 403);
    assert.equal(err.code, 'PERMISSION_MISSING');
    assert.equal(err.message, 'denied(): This key may not call this endpoint.');
  });

  it("a stopped deployment's call: at once, saying to start it", async () => {
    const { stopped } = await ready(60_000);
    const err = await stopped().catch((e: unknown) => e);
    assert.ok(err instanceof GantryApiError, String(err));
    assert.equal(err.status, 503);
    assert.equal(err.code, 'ENDPOINT_STOPPED');
    assert.equal(err.message, "stopped(): deployment 'calls' is stopped; start it and call again");
  });

  it("a failed deployment's call (its workers kept failing): at once, saying it failed, not that it is stopped", async () => {
    const { failing } = await ready(60_000);
    shownStatus = 'failed';
    try {
      const t0 = Date.now();
      const err = await failing().catch((e: unknown) => e);
      assert.ok(err instanceof GantryApiError, String(err));
      assert.ok(Date.now() - t0 < 10_000, 'not retried toward callTimeoutMs');
      assert.equal(err.status, 503);
      assert.equal(err.code, 'ENDPOINT_STOPPED');
      assert.equal(
        err.message,
        "failing(): deployment 'calls' failed: its workers kept failing (its endpoint's status_msg says why); fix that, then start it and call again",
      );
    } finally {
      shownStatus = 'stopped';
    }
  });

  it('a deployment left without a workergroup: at once, not retried (503 NO_WORKERGROUP stays so until one is made)', async () => {
    const { nogroup } = await ready(60_000);
    const err = await nogroup().catch((e: unknown) => e);
    assert.ok(err instanceof GantryApiError, String(err));
    assert.equal(err.code, 'NO_WORKERGROUP');
    assert.equal(noGroupCalls, 1);
  });

  it('ensureReady refused: status, code and the request in the message', async () => {
    putRefused = true;
    try {
      const err = await ready(1_000).catch((e: unknown) => e);
      assert.ok(err instanceof GantryApiError, String(err));
      assert.equal(err.status, 400);
      assert.equal(err.code, 'INVALID_INPUT');
      assert.equal(err.message, "PUT /api/v0/deployments/: 'storage' must be a positive number");
    } finally {
      putRefused = false;
    }
  });
});

describe('a server that does not answer is named', () => {
  it('by Deployment.ensureReady', async () => {
    const at = `http://127.0.0.1:${await closedPort()}`;
    const app = new Deployment({ name: 'nowhere', url: at, apiKey: 'k', entry });
    app.image('node:20', 8);
    const err = await app.ensureReady().catch((e: unknown) => e);
    assert.ok(err instanceof GantryConnectionError, String(err));
    assert.equal(err.url, `${at}/api/v0/deployments/`);
    assert.match(err.message, new RegExp(`^no answer from ${at}/api/v0/deployments/ \\(ECONNREFUSED\\)`));
    assert.ok(err.cause instanceof TypeError, 'fetch error kept as the cause');
    // fetch's failure was a TypeError: code that caught those still catches this.
    assert.ok(err instanceof TypeError);
  });

  it('by GantryClient', async () => {
    const at = `http://127.0.0.1:${await closedPort()}`;
    const err = await new GantryClient({ url: at, apiKey: 'k' }).listInstances().catch((e: unknown) => e);
    assert.ok(err instanceof GantryConnectionError, String(err));
    assert.match(err.message, new RegExp(`^no answer from ${at}/api/v0/instances/ \\(ECONNREFUSED\\)`));
    assert.ok(err.cause instanceof TypeError);
  });
});

describe('no answer, and what is not one', () => {
  it("only fetch's own failure is a GantryConnectionError; a bad key (not a header value) is the caller's error, as it was", async () => {
    const c = new GantryClient({ url: 'http://127.0.0.1:1', apiKey: 'key€' });
    await assert.rejects(
      c.listInstances(),
      (err: unknown) => err instanceof TypeError && !(err instanceof GantryConnectionError) && /ByteString/.test(err.message),
    );
    await assert.rejects(new GantryClient({ url: 'http://127.0.0.1:1', apiKey: 'k' }).listInstances(), GantryConnectionError);
  });
});

describe('an answer that is not JSON', () => {
  it('is a GantryApiError naming the URL, not a null that fails later (a web page at the URL given)', async () => {
    const page = createServer((_req, res) => {
      res.writeHead(200, { 'content-type': 'text/html' });
      res.end('<html>sign in</html>');
    });
    await new Promise<void>((resolve) => page.listen(0, '127.0.0.1', resolve));
    try {
      const at = `http://127.0.0.1:${(page.address() as AddressInfo).port}`;
      const err = await new GantryClient({ url: at, apiKey: 'k' }).listInstances().catch((e: unknown) => e);
      assert.ok(err instanceof GantryApiError, String(err));
      assert.equal(err.status, 200);
      assert.match(err.message, new RegExp(`^GET /api/v0/instances/: the answer of ${at} is not JSON; is it a Gantry server\\? \\(<html>sign in</html>\\)$`));
    } finally {
      await new Promise((resolve) => page.close(resolve));
    }
  });
});
