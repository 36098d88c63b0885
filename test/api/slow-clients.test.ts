import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { ApiDialect } from '../../src/api/edge/dialect.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

/** A route that answers only when the test says so: a handler holding its answer long after the body arrived. */
let release: () => void = () => undefined;
const held = new Promise<void>((r) => (release = r));
let arrived: () => void = () => undefined;
const heldArrived = new Promise<void>((r) => (arrived = r));
const holdDialect: ApiDialect = {
  name: 'hold',
  prefixes: ['/hold'],
  errorBody: (error) => ({ error: error.code }),
  routeConfig: () => ({ auth: false, audit: false, family: null }),
  routes(app) {
    app.post('/hold', async () => {
      arrived();
      await held;
      return { ok: true };
    });
  },
};
/** A second dialect with a body shape of its own: a refused request is answered in the shape of the dialect its path names. */
const shapedDialect: ApiDialect = {
  name: 'shaped',
  prefixes: ['/shaped'],
  errorBody: (error, status) => ({ shaped: error.code, status }),
  routes: () => undefined,
};

interface Conn {
  readonly socket: Socket;
  /** Everything the server sent so far. */
  received(): string;
  /** Resolves when the server closed (or reset) the connection. */
  readonly closed: Promise<void>;
  isClosed(): boolean;
}

async function open(port: number): Promise<Conn> {
  const socket = connect(port, '127.0.0.1');
  let data = '';
  let done = false;
  socket.on('data', (b: Buffer) => (data += b.toString('latin1')));
  socket.on('error', () => undefined);
  const closed = new Promise<void>((r) =>
    socket.once('close', () => {
      done = true;
      r();
    }),
  );
  await new Promise<void>((r, j) => {
    socket.once('connect', r);
    socket.once('error', j);
  });
  return { socket, received: () => data, closed, isClosed: () => done };
}

/** Send `chunks` one at a time, a pause between them, until the server closes the connection; true if it did. */
async function trickle(c: Conn, chunks: readonly string[], pauseMs: number): Promise<boolean> {
  for (const chunk of chunks) {
    if (c.isClosed()) return true;
    c.socket.write(chunk);
    await Promise.race([c.closed, new Promise((r) => setTimeout(r, pauseMs))]);
  }
  return c.isClosed();
}

/** One GET /healthz on an open keep-alive connection; resolves with the status line. */
async function get(c: Conn): Promise<string> {
  const before = c.received().length;
  c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n');
  while (!c.received().slice(before).includes('{"ok":true}')) {
    if (c.isClosed()) return 'closed';
    await new Promise((r) => setTimeout(r, 20));
  }
  return c.received().slice(before).split('\r\n')[0] ?? '';
}

/**
 * Issue 14: a request body sent a byte at a time, or headers sent a line at a time, is cut off at the
 * configured bound (before authentication); a client address holds a bounded number of connections.
 */
for (const ts of ONE_STORE) {
  describe(`slow clients and connection floods (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let port: number;
    before(async () => {
      g = await startTestGantry(ts, {
        localHost: false,
        dialects: [holdDialect, shapedDialect],
        // The request bound is requestTimeoutMs + serverlessQueueTimeoutMs: 2 s here.
        settings: { headersTimeoutMs: 1_000, requestTimeoutMs: 1_500, serverlessQueueTimeoutMs: 500, maxConnectionsPerAddress: 6 },
      });
      port = Number(new URL(g.url).port);
    });
    after(async () => {
      release();
      await g.dispose();
    });

    it('a body sent one byte at a time is answered 408 and closed, while a handler holding its answer past the bound is not cut', async () => {
      // The held request's body is complete at once; its handler then waits past every deadline.
      const answer = g.api('POST', '/hold', { x: 1 });
      await heldArrived;
      const c = await open(port);
      c.socket.write('POST /api/v0/instances/ HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 1000\r\n\r\n');
      // 1000 bytes at one per 100 ms would take 100 s; the bound is 2 s.
      const cut = await trickle(
        c,
        Array.from({ length: 1000 }, () => ' '),
        100,
      );
      assert.ok(cut, 'the connection was still open after the whole body was sent');
      assert.match(c.received(), /^HTTP\/1\.1 408/);
      // The slow request started after the held one and has been cut: the held one is older than the bound.
      release();
      const r = await answer;
      assert.equal(r.status, 200, r.text);
      assert.deepEqual(r.body, { ok: true });
    });

    it('headers sent one line at a time are answered 408 and closed', async () => {
      const c = await open(port);
      c.socket.write('GET /healthz HTTP/1.1\r\nHost: x\r\n');
      // 300 lines at one per 100 ms would take 30 s; the bound is 1 s (Node's own default was 60 s).
      const cut = await trickle(
        c,
        Array.from({ length: 300 }, (_, i) => `X-Slow-${i}: y\r\n`),
        100,
      );
      assert.ok(cut, 'the connection was still open after 300 header lines');
      assert.match(c.received(), /^HTTP\/1\.1 408/);
    });

    it("a request Node's parser refuses (headers over its limit, a malformed line) is answered in the dialect's error shape and closed", async () => {
      const ask = async (raw: string): Promise<string> => {
        const c = await open(port);
        c.socket.write(raw);
        await c.closed;
        return c.received();
      };
      const big = await ask(`GET /hold HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.match(big, /^HTTP\/1\.1 431 /);
      assert.match(big, /\r\nconnection: close\r\n/);
      assert.deepEqual(JSON.parse(big.slice(big.indexOf('\r\n\r\n') + 4)), { error: 'INVALID_ARGUMENT' });
      const bad = await ask('GET /hold HTTP/1.1\r\nHost: x\r\nNo colon here\r\n\r\n');
      assert.match(bad, /^HTTP\/1\.1 400 /);
      assert.deepEqual(JSON.parse(bad.slice(bad.indexOf('\r\n\r\n') + 4)), { error: 'INVALID_ARGUMENT' });
      const shaped = await ask(`POST /shaped/x?y=1 HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(20_000)}\r\n\r\n`);
      assert.deepEqual(JSON.parse(shaped.slice(shaped.indexOf('\r\n\r\n') + 4)), { shaped: 'INVALID_ARGUMENT', status: 431 });
    });

    it('connections beyond maxConnectionsPerAddress are closed; those already open keep working', async () => {
      const conns: Conn[] = [];
      let refused: Conn | undefined;
      // The test's own HTTP client may hold a kept-alive connection too, so count until one is refused.
      for (let i = 0; i < 10 && refused === undefined; i++) {
        const c = await open(port);
        if ((await get(c)) === 'closed') refused = c;
        else conns.push(c);
      }
      assert.ok(refused !== undefined, `${conns.length} connections from one address were all served`);
      assert.ok(conns.length >= 5 && conns.length <= 6, `${conns.length} served before one was refused (limit 6)`);
      assert.equal(refused.received(), '', 'a refused connection gets nothing');
      for (const c of conns) assert.match(await get(c), /^HTTP\/1\.1 200/);
      // Closing one frees its place (the server counts the close when it sees it).
      conns.pop()?.socket.destroy();
      let again = 'closed';
      for (let i = 0; i < 200 && again === 'closed'; i++) {
        const c = await open(port);
        again = await get(c);
        if (again === 'closed') await new Promise((r) => setTimeout(r, 25));
        else conns.push(c);
      }
      assert.match(again, /^HTTP\/1\.1 200/);
      for (const c of conns) c.socket.destroy();
    });
  });
}
