import assert from 'node:assert/strict';
import { createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { AgentSession } from '../../src/control/hosts/agent-session.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

const listen = (port: number): Promise<Server> =>
  new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen({ port }, () => resolve(s));
  });

/** Host ports held by another program are not handed to instances: the agent probes its range. */
for (const ts of TEST_STORES) {
  describe(`host ports in use elsewhere (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    const held: Server[] = [];
    before(async () => {
      g = await startTestGantry(ts, { gpus: '1x RTX 4090:24GB' });
    });
    after(async () => {
      for (const s of held) await new Promise((r) => s.close(r));
      await g.dispose();
    });

    it('skips the ports another program listens on; the workload binds the port it gets', async () => {
      const m = (await g.store.listMachines(Date.now()))[0];
      assert.ok(m);
      const taken = [m.portRangeStart, m.portRangeStart + 1];
      for (const p of taken) held.push(await listen(p));
      // Until a heartbeat reported both held (on a busy machine a port read can miss a heartbeat: they are
      // bounded), then one more: heartbeats go one at a time, so that report's store write is done.
      const session = g.control.ctx.hosts.get(m.id) as AgentSession;
      let reportedAt: number | null = null;
      for (let i = 0; ; i++) {
        assert.ok(i < 1200, 'the agent reports the held ports');
        if (reportedAt === null && taken.every((p) => session.busyPorts.has(p))) reportedAt = session.lastHeartbeatAt;
        else if (reportedAt !== null && session.lastHeartbeatAt > reportedAt) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      const serve = `require('http').createServer((q, r) => r.end('ok')).listen(Number(process.env.PORT))`;
      const c = await g.api('PUT', '/api/v0/asks/1001/', { image: 'x', onstart: `exec ${JSON.stringify(process.execPath)} -e ${JSON.stringify(serve)}` });
      assert.equal(c.status, 200, c.text);
      const id = c.body.new_contract as number;
      const port = (await g.store.getInstance(id))?.ports[0]?.hostPort;
      assert.ok(port !== undefined);
      assert.ok(!taken.includes(port), `port ${port} is held by another program`);
      assert.ok(port >= m.portRangeStart && port <= m.portRangeEnd);
      await g.waitInstance(id, (r) => r.actual_status === 'running', 60_000);
      for (let i = 0; ; i++) {
        const body = await fetch(`http://127.0.0.1:${port}/`)
          .then((r) => r.text())
          .catch(() => null);
        if (body === 'ok') break;
        const row = (await g.api('GET', `/api/v0/instances/${id}/`)).body.instances as Record<string, unknown>;
        assert.ok(i < 600 && row.actual_status === 'running', `the workload serves on ${port}: ${String(row.status_msg)}`);
        await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    });
  });
}
