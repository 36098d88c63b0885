import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { inProcess } from '../helpers/cli-in-process.js';

/** A worker that printed nothing, answered as /get_endpoint_logs/ answers it (src/api/dialects/vast/serverless-workers.ts). */
const ANSWER = {
  info0: 'worker 7: Ready',
  info1: '--- worker 7 ---\n(no output yet)',
  trace: 'worker 7: Ready\n--- worker 7 ---\n(no output yet)',
  debug: 'worker 7: Ready\n--- worker 7 ---\n(no output yet)',
  logs: '--- worker 7 ---\n',
};

/** `gantry get endpoint logs` prints the level vastai's `get endpt-logs` prints, which says what it has instead of nothing. */
describe('gantry get endpoint logs', () => {
  let server: Server;
  let url: string;
  const asked: unknown[] = [];
  before(async () => {
    server = createServer((req, res) => {
      let body = '';
      req.on('data', (c: Buffer) => (body += c.toString()));
      req.on('end', () => {
        asked.push({ path: req.url, body: JSON.parse(body) as unknown });
        res.setHeader('content-type', 'application/json');
        res.end(JSON.stringify(ANSWER));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => new Promise<void>((r) => server.close(() => r())));

  it("a worker that printed nothing: its section says so (vastai's level 1), not an empty one", async () => {
    const r = await inProcess(['get', 'endpoint', 'logs', 'echo'], url, 'k');
    assert.equal(r.code, 0, r.stderr);
    assert.equal(r.stdout, '--- worker 7 ---\n(no output yet)\n');
    assert.deepEqual(asked.pop(), { path: '/get_endpoint_logs/', body: { endpoint: 'echo' } });
  });

  it('--level 0 to 3 picks the level as vastai does; --raw prints the answer', async () => {
    assert.equal((await inProcess(['get', 'endpoint', 'logs', '5', '--level', '0', '--tail', '20'], url, 'k')).stdout, 'worker 7: Ready\n');
    assert.deepEqual(asked.pop(), { path: '/get_endpoint_logs/', body: { id: 5, tail: 20 } });
    assert.equal((await inProcess(['get', 'endpoint', 'logs', 'echo', '--level', '3'], url, 'k')).stdout, `${ANSWER.debug}\n`);
    assert.deepEqual(JSON.parse((await inProcess(['--raw', 'get', 'endpoint', 'logs', 'echo'], url, 'k')).stdout), ANSWER);
  });
});
