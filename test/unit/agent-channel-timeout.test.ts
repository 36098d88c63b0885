import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { HttpChannel } from '../../src/agent/channel.js';
import type { Heartbeat } from '../../src/control/hosts/agent-hub.js';

/** A control plane that takes an agent's request and never answers (a proxy that lost it, a replica stuck). */
describe("an agent's request its control plane never answers", () => {
  let server: Server;
  let url = '';
  before(async () => {
    server = createServer(() => undefined);
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    url = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  after(() => {
    server.closeAllConnections();
    return new Promise((r) => server.close(r));
  });

  it('is given up after agentRequestTimeoutMs, not a fixed 30 s', { timeout: 15_000 }, async () => {
    const channel = new HttpChannel(url, 'ght_x', 1_000);
    await assert.rejects(channel.heartbeat({} as Heartbeat));
  });
});
