import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type ControlPlane } from '../../src/control/control-plane.js';
import { type KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { TEST_STORES } from '../helpers/stores.js';
import { instanceRow, joinHost, replicaPlane } from '../helpers/replica.js';

/**
 * Heartbeats that only say "alive" (decision 021): written together, once per tick, never later than heard;
 * a heartbeat with new GPU figures or usage, or the first of a session, is written at once as before.
 */
for (const ts of TEST_STORES) {
  describe(`heartbeat liveness (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let location: string;
    let cp: ControlPlane;
    const stores: KyselyStore[] = [];
    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-liveness-'));
      location = await ts.fresh(dir);
      cp = await replicaPlane(ts, stores, location, dir, {});
      await cp.bootstrapAdmin('admin-key');
    });
    after(async () => {
      cp.agents.close();
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('a heartbeat with nothing new is written with the next tick; new GPU figures at once; touchMachines never moves back', async () => {
      const admin = await cp.authenticate('admin-key');
      const { token, welcome: w } = await joinHost(cp, admin.accountId, 'alive-a', 35000);
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

    it("a pull's progress is written when the heartbeat says nothing else (its loading instance's status_msg)", async () => {
      const admin = await cp.authenticate('admin-key');
      const { token, welcome: w } = await joinHost(cp, admin.accountId, 'alive-progress', 35100);
      const id = await instanceRow(cp, admin.accountId, w.machineId);
      // Loading, as the reconciler records a start under way.
      const store = cp.ctx.store;
      const now = Date.now();
      const [row] = await store.claimInstances({
        owner: 'test',
        now,
        leaseMs: 60_000,
        observeBefore: now + 1,
        limit: 1,
        dueIds: [id],
        machineIds: [w.machineId],
      });
      const lease = row?.leaseToken as string;
      const write = { status: 'loading', statusMsg: null, exitCode: null, observedGeneration: row?.generation ?? 0, pendingOpDone: false, now } as const;
      assert.ok(await store.applyObservation(id, lease, write));
      await store.releaseLease(id, lease, now);
      assert.equal((await store.getInstance(id))?.status, 'loading');
      const m = { machineId: w.machineId, session: w.session, gpuUtils: [10], usage: [], exited: [] };
      await cp.agents.heartbeat(token, { ...m, seq: 1, progress: [] });
      // Alive, the same GPU figures, no usage: before, this returned as liveness alone and the progress was lost.
      await cp.agents.heartbeat(token, { ...m, seq: 2, progress: [{ instanceId: id, message: 'pulling: 40%' }] });
      assert.equal((await store.getInstance(id))?.statusMsg, 'pulling: 40%');
    });

    it('a replica that just started calls no host offline before machineOfflineMs of its own: the silence was its own absence', async () => {
      const cp2 = await replicaPlane(ts, stores, location, dir, { machineOfflineMs: 400, sweepIntervalMs: 25 });
      const admin = await cp2.authenticate('admin-key');
      const { welcome: w } = await joinHost(cp2, admin.accountId, 'alive-b', 35100);
      const inst = { id: await instanceRow(cp2, admin.accountId, w.machineId) };
      await new Promise((r) => setTimeout(r, 500)); // silent longer than machineOfflineMs, while no loop ran
      const startedAt = Date.now();
      cp2.housekeeping.start();
      try {
        await new Promise((r) => setTimeout(r, 150));
        const early = await cp2.ctx.store.getInstance(inst.id);
        if (Date.now() - startedAt < 400) assert.equal(early?.status, 'created', 'not offline within the first machineOfflineMs');
        let status = early?.status;
        for (let i = 0; i < 200 && status !== 'unknown'; i++) {
          await new Promise((r) => setTimeout(r, 25));
          status = (await cp2.ctx.store.getInstance(inst.id))?.status;
        }
        assert.equal(status, 'unknown', 'offline once the host stayed silent for machineOfflineMs of this replica');
        assert.match((await cp2.ctx.store.getInstance(inst.id))?.statusMsg ?? '', /^host offline: /);
      } finally {
        await cp2.housekeeping.stop();
        cp2.agents.close();
      }
    });
  });
}
