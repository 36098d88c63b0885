import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ControlPlane } from '../../src/control/control-plane.js';
import { joinHost, replicaPair, type ReplicaPair } from '../helpers/replica.js';
import { createRequest } from '../helpers/requests.js';
import { TEST_STORES } from '../helpers/stores.js';

const RANGE = 36400;

/**
 * Ports of a host's range that another program holds are reported by its agent to the replica it talks
 * to; a rental through any other replica skips them too (the README: "a port of the range that another
 * program holds on the host is skipped").
 */
for (const ts of TEST_STORES) {
  describe(`busy host ports across replicas (${ts.name})`, { skip: ts.skip }, () => {
    let a: ControlPlane;
    let b: ControlPlane;
    let pair: ReplicaPair;

    before(async () => {
      pair = await replicaPair(ts, 'busy-ports', { machineCacheMs: 0 });
      ({ a, b } = pair);
    });
    after(() => pair.close());

    it('an instance made through a replica the agent does not talk to gets none of the ports the agent found taken', async () => {
      const admin = await a.authenticate('admin-key');
      const { token, welcome: w } = await joinHost(a, admin.accountId, 'busy-a', RANGE);
      const taken = [RANGE, RANGE + 1, RANGE + 2];
      const beat = { machineId: w.machineId, session: w.session, gpuUtils: null, usage: [], exited: [], progress: [] };
      await a.agents.heartbeat(token, { ...beat, seq: 1, busyPorts: taken });
      assert.deepEqual((await b.ctx.store.getMachine(w.machineId, Date.now()))?.busyPorts, taken, 'stored for every replica');
      const { instance } = await b.createInstance(
        admin,
        createRequest({ offerId: w.machineId * 1000, diskGb: 1, env: { env: {}, ports: [{ containerPort: 8080, proto: 'tcp' }] } }),
      );
      const ports = instance.ports.map((p) => p.hostPort);
      assert.equal(ports.length, 1);
      assert.ok(
        ports.every((p) => !taken.includes(p)),
        `got ${ports.join(', ')}, all of them free`,
      );
      // Freed again: the next report says so, and the store follows.
      await a.agents.heartbeat(token, { ...beat, seq: 2, busyPorts: [] });
      assert.deepEqual((await b.ctx.store.getMachine(w.machineId, Date.now()))?.busyPorts, []);
    });
  });
}
