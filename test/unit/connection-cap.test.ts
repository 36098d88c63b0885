import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import { connect, type AddressInfo, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { connectionCap, limitConnections, openFileLimit } from '../../src/api/edge/connections.js';

/** What a raw connection got: an answer's first line, or 'closed' when the server closed it with nothing. */
async function ask(port: number): Promise<{ socket: Socket; got: Promise<string> }> {
  const socket = connect(port, '127.0.0.1');
  await new Promise((r) => socket.once('connect', r));
  let text = '';
  socket.on('data', (d) => (text += d.toString('latin1')));
  socket.on('error', () => undefined);
  const got = new Promise<string>((resolve) => {
    socket.on('data', () => text.includes('\r\n\r\n') && resolve(text.split('\r\n')[0] ?? ''));
    socket.once('close', () => resolve(text === '' ? 'closed' : (text.split('\r\n')[0] ?? '')));
  });
  socket.write('GET / HTTP/1.1\r\nHost: x\r\n\r\n');
  return { socket, got };
}

/** One address was bound (maxConnectionsPerAddress), the server not: many addresses (an IPv6 block) held any number. */
describe('the bound on connections in all', () => {
  let server: Server;
  let port = 0;
  before(async () => {
    server = createServer((_req, res) => res.end('ok'));
    limitConnections(server, { headersTimeoutMs: 0, requestTimeoutMs: 0, maxConnectionsPerAddress: 0, maxConnections: 2, ipv6ClientPrefixBits: 64 });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    port = (server.address() as AddressInfo).port;
  });
  after(() => new Promise((r) => server.close(r)));

  it('closes connections beyond it on arrival; those open keep working, and a closed one frees its place', async () => {
    const [a, b] = [await ask(port), await ask(port)];
    assert.deepEqual([await a.got, await b.got], ['HTTP/1.1 200 OK', 'HTTP/1.1 200 OK']);
    const third = await ask(port);
    assert.equal(await third.got, 'closed');
    a.socket.destroy();
    let again = 'closed';
    for (let i = 0; i < 200 && again === 'closed'; i++) {
      const c = await ask(port);
      again = await c.got;
      if (again === 'closed') await new Promise((r) => setTimeout(r, 25));
      else c.socket.destroy();
    }
    assert.equal(again, 'HTTP/1.1 200 OK');
    b.socket.destroy();
  });

  it('is never more than two fifths of the open-file limit; 0 is unbounded', () => {
    assert.equal(connectionCap(10_000, 1024), 409);
    assert.equal(connectionCap(300, 1024), 300);
    assert.equal(connectionCap(10_000, null), 10_000, 'the limit unknown: the setting');
    assert.equal(connectionCap(0, 1024), 0);
  });

  it("reads the soft limit from Linux's /proc/self/limits, null where there is none", () => {
    const text =
      'Limit                     Soft Limit           Hard Limit           Units     \nMax open files            1024                 524288               files     \n';
    assert.equal(
      openFileLimit(() => text),
      1024,
    );
    assert.equal(
      openFileLimit(() => 'Max open files            unlimited            unlimited            files\n'),
      null,
    );
    assert.equal(
      openFileLimit(() => {
        throw new Error('ENOENT');
      }),
      null,
    );
  });
});
