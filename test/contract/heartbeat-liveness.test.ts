import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ControlPlane } from '../../src/control/control-plane.js';
import { ensureHostToken, newHostToken } from '../../src/control/hosts/host-tokens.js';
import { type KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { TEST_STORES } from '../helpers/stores.js';
import { replicaPlane } from '../helpers/replica.js';
import { cpuHost } from '../helpers/machines.js';

/**
 * Heartbeats that only say "alive" (decision 021): written together, once per tick, never later than heard;
 * a heartbeat with new GPU figures or usage, or the first of a session, is written at once as before.
 */
for (const ts of TEST_STORES) {
  describe(`heartbeat liveness (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let cp: ControlPlane;
    const stores: KyselyStore[] = [];
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-liveness-'));
      cp = await replicaPlane(ts, stores, await ts.fresh(dir), dir, {});
      await cp.bootstrapAdmin('admin-key');
    });
    after(async () => {
      cp.agents.close();
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('a heartbeat with nothing new is written with the next tick; new GPU figures at once; touchMachines never moves back', async () => {
      const admin = await cp.authenticate('admin-key');
      const token = newHostToken();
      await ensureHostToken(cp.ctx, admin.accountId, token);
      const w = await cp.agents.hello(token, { hostKey: 'alive-a', imageNotice: null, machine: { ...cpuHost(35000), hostname: 'alive-a' } });
      const m = { machineId: w.machineId, session: w.session };
      const seen = async (): Promise<number> => (await cp.ctx.store.getMachine(w.machineId, Date.now()))?.lastSeenAt ?? 0;
      const beat = (seq: number, gpuUtils: number[] | null) => cp.agents.heartbeat(token, { ...m, seq, gpuUtils, usage: [], exited: [], progress: [] });

      await beat(1, [10]);
      const first = await seen();
      await new Promise((r) => setTimeout(r, 5));
      await beat(2, [10]); // alive, nothing else
      assert.equal(await seen(), first, 'not written on its own');
      await cp.agents.flushLiveness();
      const ticked = await seen();
      assert.ok(ticked > first, 'written with the tick');

      await new Promise((r) => setTimeout(r, 5));
      await beat(3, [55]);
      assert.ok((await seen()) > ticked, 'new GPU figures are written at once');
      const machines = await cp.ctx.store.listMachines(Date.now());
      assert.deepEqual(machines.find((x) => x.id === w.machineId)?.gpuUtils, [55]);

      const now = await seen();
      await cp.ctx.store.touchMachines([w.machineId], now - 1000);
      assert.equal(await seen(), now, 'an older time does not move it back');
    });
  });
}
