import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { ControlPlane } from '../../src/control/control-plane.js';
import { instanceRow, joinHost, replicaPair, type ReplicaPair } from '../helpers/replica.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * `delete machine` ends the owner's instances on it in its own transaction. A start or stop of one of them
 * that read the instance just before (through another replica) writes its intent as a compare-and-set on the
 * generation: the delete moves the generation, so that write finds it moved, decides again, and is refused
 * (destroyed), instead of writing a target over the tombstone of an instance on a machine that is gone.
 */
for (const ts of TEST_STORES) {
  describe(`an intent read before a machine delete (${ts.name})`, { skip: ts.skip }, () => {
    let a: ControlPlane;
    let b: ControlPlane;
    let pair: ReplicaPair;

    before(async () => {
      pair = await replicaPair(ts, 'delete-intent', { machineCacheMs: 0 });
      ({ a, b } = pair);
    });
    after(() => pair.close());

    it('finds the generation moved and is refused as destroyed', async () => {
      const admin = await a.authenticate('admin-key');
      const { welcome } = await joinHost(a, admin.accountId, 'delete-intent', 36600);
      const id = await instanceRow(a, admin.accountId, welcome.machineId);
      const read = await b.ctx.store.getInstance(id);
      assert.ok(read);
      const del = await a.ctx.store.deleteMachine(welcome.machineId, Date.now(), 'destroyed with its machine');
      assert.equal(del.deleted, true);
      const stale = await b.ctx.store.writeIntent(id, read.generation, {
        target: 'stopped',
        pendingOp: null,
        acquireGpus: false,
        statusMsg: null,
        now: Date.now(),
      });
      assert.equal(stale, false, 'written over the tombstone');
      const row = await a.ctx.store.getInstance(id);
      assert.equal(row?.status, 'destroyed');
      assert.equal(row?.target, 'deleted');
      assert.equal(row?.observedGeneration, row?.generation, 'nothing left for a reconciler');
      await assert.rejects(b.changeInstance(admin, id, 'stop'), (e: { code?: string }) => e.code === 'ILLEGAL_TRANSITION' || e.code === 'INSTANCE_NOT_FOUND');
    });
  });
}
