import assert from 'node:assert/strict';
import { connect, createServer, type Server } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { AgentSession } from '../../src/control/hosts/agent-session.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

/** A listener on loopback, as any program on the host could open; null where the port cannot be had. */
const hold = (port: number): Promise<Server | null> =>
  new Promise((resolve) => {
    const s = createServer((c) => c.end('impostor\n'));
    s.once('error', () => resolve(null));
    s.listen({ port, host: '127.0.0.1' }, () => resolve(s));
  });
const close = (s: Server): Promise<void> => new Promise((resolve) => s.close(() => resolve()));

/** The first bytes a server on the port says. */
const greeting = (port: number): Promise<string> =>
  new Promise((resolve, reject) => {
    const sock = connect(port, '127.0.0.1');
    sock.once('data', (d) => (sock.destroy(), resolve(d.toString('utf8'))));
    sock.once('error', reject);
  });

/**
 * While an instance is stopped, any program on its host may take its SSH port. Its start then never points its
 * users at that program: the instance gets another port (shown, and served by the agent), or none.
 */
for (const store of ONE_STORE) {
  describe(`an instance's SSH port taken while it was stopped (${store.name})`, { skip: store.skip }, () => {
    let g: TestGantry;
    let id: number;
    const held: Server[] = [];
    const row = async (): Promise<Record<string, unknown>> => (await g.api('GET', `/api/v0/instances/${id}/`)).body.instances as Record<string, unknown>;
    const setState = async (state: 'stopped' | 'running'): Promise<Record<string, unknown>> => {
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state })).status, 200);
      return g.waitInstance(id, (r) => r.gantry_status === state, 60_000);
    };

    before(async () => {
      g = await startTestGantry(store, { gpus: '1x RTX 4090:24GB' });
      const created = await g.api('PUT', '/api/v0/asks/1001/', { image: 'x', disk: 1, runtype: 'ssh', onstart: 'sleep 600' });
      assert.equal(created.status, 200, created.text);
      id = created.body.new_contract as number;
      await g.waitInstance(id, (r) => r.gantry_status === 'running', 60_000);
    });
    after(async () => {
      for (const s of held.splice(0)) await close(s);
      await g.dispose();
    });

    it('gets another SSH port, served by the agent and shown with the reason', async () => {
      const port = (await row()).ssh_port as number;
      assert.ok(Number.isInteger(port));
      await setState('stopped');
      const impostor = await hold(port);
      assert.ok(impostor !== null, `port ${port} is free while the instance is stopped`);
      held.push(impostor);
      const r = await setState('running');
      const now = r.ssh_port as number;
      assert.ok(Number.isInteger(now) && now !== port, `ssh_port ${String(now)} is not the taken ${port}`);
      assert.deepEqual((r.ports as Record<string, unknown>)['22/tcp'], [{ HostIp: '0.0.0.0', HostPort: String(now) }]);
      assert.equal(r.status_msg, `SSH port changed to ${now}: port ${port} is held by another program on this host`);
      assert.equal(r.actual_status, 'running');
      assert.match(await greeting(now), /^SSH-2\.0-/, 'the agent serves SSH on the new port');
      assert.equal(await greeting(port), 'impostor\n', 'the other program keeps its port');
      assert.equal((await row()).status_msg, r.status_msg, 'a later look keeps the reason');
    });

    it('runs without SSH access when no other port can be given, and gets a port again at a later start', async () => {
      const m = (await g.store.listMachines(Date.now()))[0];
      assert.ok(m);
      await setState('stopped');
      const mine = new Set(((await g.store.getInstance(id))?.ports ?? []).map((p) => p.hostPort));
      const heldPorts: number[] = [];
      for (let p = m.portRangeStart; p <= m.portRangeEnd; p++) {
        if (mine.has(p)) continue;
        const s = await hold(p);
        if (s === null) continue;
        held.push(s);
        heldPorts.push(p);
      }
      const r = await setState('running');
      assert.equal(r.actual_status, 'running');
      assert.equal(r.ssh_port, null, 'no port is shown that the agent does not serve');
      assert.equal((r.ports as Record<string, unknown>)['22/tcp'], undefined);
      assert.match(
        String(r.status_msg),
        /^SSH access unavailable: ports? [\d, ]+ (is|are) held by another program on this host, and no other port could be given; the next start tries again$/,
      );
      for (const s of held.splice(0)) await close(s);
      // Once the host reported the ports free (it reports the busy ones with its heartbeats): the store skips busy ones.
      const session = g.control.ctx.hosts.get(m.id) as AgentSession;
      for (let i = 0; heldPorts.some((p) => session.busyPorts.has(p)); i++) {
        assert.ok(i < 1200, 'the agent reports the ports free');
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      await setState('stopped');
      const again = await setState('running');
      assert.ok(Number.isInteger(again.ssh_port), JSON.stringify(again));
      assert.equal(again.status_msg, null);
      assert.match(await greeting(again.ssh_port as number), /^SSH-2\.0-/);
    });
  });
}
