import assert from 'node:assert/strict';
import { createServer, type Server, type ServerResponse } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { Abort } from '../../src/gateway/abort.js';
import { WorkerPools } from '../../src/gateway/proxy.js';
import { startWorker } from '../../src/sdk/worker.js';
import { until } from '../helpers/serverless.js';

/**
 * A request Gantry gives up (a deadline, a drain out of time, a caller that left) must not leave a
 * connection to the worker that holds the worker's stop: undici re-queues an aborted request when its
 * socket closes, opens a new connection for it and drops it, a connection that never carries a request;
 * Node's server counts such a connection as awaiting its first request, so `server.close()` waited for
 * it (a stop after a timed-out `_infer` took the runtime's whole grace, then the kill).
 */

/** A worker as a plain Node server (as the AI Core example is): each connection, and whether it carried a request. */
async function plainWorker(
  answer: (res: ServerResponse) => void,
): Promise<{ server: Server; origin: string; accepted(): number; usedOpen(): number; unusedOpen(): number }> {
  let accepted = 0;
  const used = new WeakSet<Socket>();
  const open = new Set<Socket>();
  const server = createServer((req, res) => {
    used.add(req.socket);
    req.resume();
    answer(res);
  });
  server.on('connection', (s: Socket) => {
    accepted++;
    open.add(s);
    s.once('close', () => open.delete(s));
  });
  // As the worker helper's: its keep-alive hint (30 s) is how long undici keeps an idle connection to it.
  server.keepAliveTimeout = 30_000;
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return {
    server,
    origin: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accepted: () => accepted,
    usedOpen: () => [...open].filter((s) => used.has(s)).length,
    unusedOpen: () => [...open].filter((s) => !used.has(s)).length,
  };
}

const body = (): Readable => Readable.from([Buffer.from('{"docs":[]}')]);

describe('connections to workers after a request Gantry gave up', { timeout: 60_000 }, () => {
  const servers: Server[] = [];
  after(() => {
    for (const s of servers) {
      s.close();
      s.closeAllConnections();
    }
  });

  for (const how of ['its deadline passed', 'its caller left mid-answer'] as const)
    it(`the gateway's pool leaves no connection open that never carried a request (${how})`, async () => {
      const w = await plainWorker((res) => {
        if (how === 'its deadline passed') setTimeout(() => res.end('late'), 1_500);
        else {
          res.writeHead(200, { 'content-length': '10' });
          res.write('abc');
          setTimeout(() => res.end('defghij'), 1_500);
        }
      });
      servers.push(w.server);
      const pools = new WorkerPools({ requestTimeoutMs: 30_000 });
      const signal = new Abort();
      const forwarded = pools.forward(w.origin, { method: 'POST', path: '/infer', headers: {}, body: body(), contentLength: '11', extra: {}, signal });
      if (how === 'its deadline passed') {
        setTimeout(() => signal.abort(new GantryError('INFERENCE_TIMEOUT', 'deadline')), 200);
        await assert.rejects(forwarded, (e: unknown) => e instanceof GantryError && e.code === 'INFERENCE_TIMEOUT');
      } else {
        const res = await forwarded;
        res.body.once('error', () => undefined);
        res.body.destroy(); // what the edge does with an answer whose caller left
      }
      // The given-up request's connection closes; undici 6 then opens another for it (a later undici may not: then none comes).
      await until('the connection of the given-up request closed', async () => w.usedOpen() === 0);
      await until('a new connection', async () => w.accepted() >= 2, 1_000).catch(() => undefined);
      // Without the fix, that connection stays open for the pool's keep-alive (10 s, or the worker's hint less 1 s), never used; the bound is well under that.
      await until('no unused connection to the worker', async () => w.unusedOpen() === 0, 5_000);
      // The worker's own stop (Node's close and idle sweep, as the AI Core example does) then waits on nothing.
      const closed = new Promise<void>((r) => w.server.close(() => r()));
      w.server.closeIdleConnections();
      await closed;
      // And the worker's next request is served (a new pool).
      const w2 = await plainWorker((res) => res.end('ok'));
      servers.push(w2.server);
      const next = await pools.forward(w2.origin, { method: 'GET', path: '/', headers: {}, body: null, contentLength: null, extra: {}, signal: new Abort() });
      assert.equal(Buffer.from(await next.body.arrayBuffer()).toString(), 'ok');
      await pools.close();
    });

  it("a worker's close does not wait on a connection that never sent a request, and still finishes the request in flight", async () => {
    let release: () => void = () => undefined;
    let started = false;
    const w = await startWorker({
      unsecured: true,
      port: 0,
      log: () => undefined,
      handle: async () => {
        started = true;
        await new Promise<void>((r) => (release = r));
        return { body: 'done' };
      },
    });
    const port = Number(new URL(w.url).port);
    const unused = connect(port, '127.0.0.1');
    await new Promise((r) => unused.once('connect', r));
    const unusedClosed = new Promise((r) => unused.once('close', r));
    const busy = connect(port, '127.0.0.1');
    await new Promise((r) => busy.once('connect', r));
    let answer = '';
    busy.on('data', (d: Buffer) => (answer += d.toString('latin1')));
    busy.write('POST /work HTTP/1.1\r\nHost: w\r\nContent-Length: 0\r\n\r\n');
    await until('the request in flight', async () => started);
    const closing = w.close();
    // The unused connection is closed by the worker (without the fix, its close waits for the client to close it).
    await unusedClosed;
    release();
    await closing;
    assert.match(answer, /^HTTP\/1\.1 200 [\s\S]*done$/, 'the request in flight was answered');
    busy.destroy();
  });
});
