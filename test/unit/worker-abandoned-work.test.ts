import { createServer, request, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, describe, it } from 'node:test';
import { startWorker } from '../../src/sdk/worker.js';
import { until } from '../helpers/serverless.js';

/**
 * A request whose caller left (the gateway's request timeout passed and it closed the connection) is no
 * longer work the worker reports: a handler that hangs kept `num_requests_working` at 1 for ever, and the
 * autoscaler, which never stops a busy worker, kept that worker (and its GPU, billed) past scale-to-zero.
 */
describe('startWorker: work whose caller left', { timeout: 30_000 }, () => {
  const servers: Server[] = [];
  const closers: (() => Promise<void>)[] = [];
  after(async () => {
    for (const c of closers) await c().catch(() => undefined);
    for (const s of servers) s.close();
  });

  it('stops counting in num_requests_working when the caller closes the connection, though the handler never ends', async () => {
    const reports: number[] = [];
    const engine = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        reports.push((JSON.parse(body) as { num_requests_working: number }).num_requests_working);
        res.end('{}');
      });
    });
    servers.push(engine);
    await new Promise<void>((r) => engine.listen(0, '127.0.0.1', r));
    const reportAddr = `http://127.0.0.1:${(engine.address() as AddressInfo).port}`;
    let started = 0;
    const w = await startWorker({
      port: 0,
      reportAddr,
      unsecured: true,
      workerId: 1,
      reportIntervalMs: 50,
      log: () => undefined,
      handle: () => {
        started++;
        return new Promise(() => undefined); // hangs, and ignores its signal
      },
    });
    closers.push(async () => {
      w.server.closeAllConnections();
      await new Promise<void>((r) => w.server.close(() => r()));
    });
    const call = request(`${w.url}/hang`, { method: 'POST' });
    call.on('error', () => undefined);
    call.end('{}');
    await until('the hanging request reported as work', async () => started === 1 && reports.at(-1) === 1, 10_000);
    call.destroy(); // what the gateway does when its request timeout passes
    await until('the abandoned request no longer reported', async () => reports.at(-1) === 0, 10_000);
  });
});
