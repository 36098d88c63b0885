import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { NewInstance, Store } from '../../src/store/store.js';
import type { InstanceRecord } from '../../src/domain/instance/instance.js';
import { TEST_STORES } from '../helpers/stores.js';
import { machineReg } from '../helpers/machines.js';

/**
 * Placement of bids, vCPUs and deposits in the store, on every store: a stronger claim marks the lowest bid
 * outbid (generation bumped, GPUs kept until its stop is confirmed) and waits; the confirmed stop hands the
 * GPUs to the strongest waiter in the same transaction; a changed bid is placed again.
 */
for (const ts of TEST_STORES) {
  describe(`bids store contract: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: Store;
    let accountId: number;
    let t = 1000;
    const inst = (o: Partial<NewInstance>): NewInstance => ({
      accountId,
      machineId: 0,
      numGpus: 1,
      image: 'img',
      env: {},
      requestedPorts: [],
      onstart: null,
      entrypoint: null,
      args: null,
      runtype: 'ssh',
      label: null,
      diskGb: 1,
      offerType: 'on-demand',
      bidPrice: null,
      dphBase: 0.3,
      storageCost: 0.1,
      target: 'running',
      instanceKeyHash: (id) => `hash-${id}-${Math.random()}`,
      now: ++t,
      ...o,
    });
    const get = async (id: number): Promise<InstanceRecord> => (await store.getInstance(id)) as InstanceRecord;
    /** What the reconciler records once the runtime confirms the instance has stopped. */
    const confirmStopped = async (id: number, machineId: number): Promise<void> => {
      const now = ++t * 1000;
      const claimed = await store.claimInstances({ owner: 'r', now, leaseMs: 1000, observeBefore: now, limit: 50, machineIds: [machineId] });
      const c = claimed.find((i) => i.id === id);
      assert.ok(c, `instance ${id} claimable`);
      for (const other of claimed) if (other.id !== id) await store.releaseLease(other.id, other.leaseToken as string, now);
      assert.equal(
        await store.applyObservation(id, c.leaseToken as string, {
          status: 'stopped',
          statusMsg: c.statusMsg,
          exitCode: null,
          observedGeneration: c.generation,
          pendingOpDone: false,
          now,
        }),
        true,
      );
      await store.releaseLease(id, c.leaseToken as string, now);
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-bids-'));
      store = new KyselyStore(ts.dialect(await ts.fresh(dir)));
      await store.migrate();
      accountId = (await store.createAccount({ username: 'u', email: 'u@x', isAdmin: false, now: 1 })).id;
    });
    after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('an on-demand rental outbids the lowest bid and gets its GPU once the stop is confirmed; the bid resumes later', async () => {
      const m = (await store.registerMachine(machineReg('h1', accountId, 2), Date.now())).id;
      const low = await store.createInstance(inst({ machineId: m, offerType: 'bid', bidPrice: 0.2, dphBase: 0.2 }));
      const mid = await store.createInstance(inst({ machineId: m, offerType: 'bid', bidPrice: 0.4, dphBase: 0.4 }));
      const od = await store.createInstance(inst({ machineId: m }));
      assert.equal(od.gpuWaitSince !== null, true, 'waits for the outbid bid to stop');
      assert.match(od.statusMsg ?? '', new RegExp(`instance ${low.id} `));
      const lost = await get(low.id);
      assert.notEqual(lost.gpuWaitSince, null);
      assert.equal(lost.generation, 2, 'the reconciler is asked to act');
      assert.equal(lost.target, 'running');
      assert.match(lost.statusMsg ?? '', /preempted by an on-demand rental/);
      assert.equal((await get(mid.id)).gpuWaitSince, null, 'the higher bid keeps its GPU');
      assert.equal((await store.allocatedGpuCounts()).get(m), 2, 'GPUs are held until the stop is confirmed');
      // A third rental cannot jump the queue: nothing lower is left to outbid.
      await assert.rejects(
        store.createInstance(inst({ machineId: m, offerType: 'bid', bidPrice: 0.3, dphBase: 0.3 })),
        (e: unknown) => e instanceof GantryError && e.code === 'OFFER_UNAVAILABLE',
      );
      await confirmStopped(low.id, m);
      const granted = await get(od.id);
      assert.equal(granted.gpuWaitSince, null);
      assert.deepEqual(granted.gpuIndices, lost.gpuIndices);
      assert.equal(granted.generation, 2);
      assert.notEqual((await get(low.id)).gpuWaitSince, null, 'still waiting');
      // The on-demand rental is destroyed: the bid wins its GPU back.
      await store.writeIntent(od.id, 2, { target: 'deleted', pendingOp: null, acquireGpus: false, now: ++t });
      const now = ++t * 1000;
      const [c] = (await store.claimInstances({ owner: 'r', now, leaseMs: 1000, observeBefore: now, limit: 50, machineIds: [m] })).filter(
        (i) => i.id === od.id,
      );
      assert.ok(c);
      await store.applyObservation(od.id, c.leaseToken as string, {
        status: 'destroyed',
        statusMsg: null,
        exitCode: null,
        observedGeneration: 3,
        pendingOpDone: false,
        now,
      });
      const back = await get(low.id);
      assert.equal(back.gpuWaitSince, null);
      assert.equal(back.statusMsg, null);
      assert.ok(back.generation > back.observedGeneration, 'the reconciler starts it');
    });

    it('a raised bid outbids a lower one and takes its GPU once its stop is confirmed', async () => {
      const m = (await store.registerMachine(machineReg('h2', accountId, 1), Date.now())).id;
      const a = await store.createInstance(inst({ machineId: m, offerType: 'bid', bidPrice: 0.2, dphBase: 0.2 }));
      const b = await store.createInstance(inst({ machineId: m, offerType: 'bid', bidPrice: 0.5, dphBase: 0.5 }));
      assert.notEqual(b.gpuWaitSince, null);
      await confirmStopped(a.id, m);
      assert.equal((await get(b.id)).gpuWaitSince, null);
      const raised = await store.changeBid(a.id, 0.9, ++t);
      assert.equal(raised.dphBase, 0.9);
      assert.equal(raised.bidPrice, 0.9);
      assert.match(raised.statusMsg ?? '', new RegExp(`instance ${b.id} `));
      const outbid = await get(b.id);
      assert.match(outbid.statusMsg ?? '', /outbid by a higher bid/);
      await confirmStopped(b.id, m);
      assert.equal((await get(a.id)).gpuWaitSince, null);
    });

    it('vCPUs are held like GPUs: a rental that does not fit is refused, a confirmed stop frees them', async () => {
      const m = (await store.registerMachine({ ...machineReg('h3', accountId, 0), cpuCores: 4, cpuRamMb: 8000 }, Date.now())).id;
      const a = await store.createInstance(inst({ machineId: m, numGpus: 0, cpuCores: 3, ramMb: 6000 }));
      assert.deepEqual((await store.allocatedCpu()).get(m), { cores: 3, ramMb: 6000 });
      assert.ok((await store.machinesRentedBy(accountId)).has(m));
      await assert.rejects(
        store.createInstance(inst({ machineId: m, numGpus: 0, cpuCores: 2, ramMb: 1000 })),
        (e: unknown) => e instanceof GantryError && e.code === 'OFFER_UNAVAILABLE',
      );
      await store.writeIntent(a.id, 1, { target: 'stopped', pendingOp: null, acquireGpus: false, now: ++t });
      await confirmStopped(a.id, m);
      assert.equal((await store.allocatedCpu()).get(m), undefined);
      await store.createInstance(inst({ machineId: m, numGpus: 0, cpuCores: 2, ramMb: 1000 }));
    });

    it('a deposit moves credit from the balance into the instance, refused when short', async () => {
      const m = (await store.registerMachine(machineReg('h4', accountId, 1), Date.now())).id;
      const i = await store.createInstance(inst({ machineId: m, dphBase: 1 }));
      await assert.rejects(store.prepayInstance(i.id, 5, 0.2, ++t), (e: unknown) => e instanceof GantryError && e.code === 'INSUFFICIENT_CREDIT');
      await store.transferCredit({ from: null, to: accountId, amount: 10, note: 'deposit', now: ++t });
      const paid = await store.prepayInstance(i.id, 5, 0.2, ++t);
      assert.equal(paid.deposit, 5);
      assert.equal(paid.depositDiscount, 0.2);
      assert.equal((await store.getAccount(accountId))?.balance, 5);
    });

    it("a new rental takes free GPUs other than a stopped instance's while there are any, so that instance can start again", async () => {
      const m = (await store.registerMachine(machineReg('h-homes', accountId, 3), Date.now())).id;
      const a = await store.createInstance(inst({ machineId: m }));
      assert.deepEqual(a.gpuIndices, [0]);
      assert.equal(await store.writeIntent(a.id, a.generation, { target: 'stopped', pendingOp: null, acquireGpus: false, now: ++t }), true);
      await confirmStopped(a.id, m);
      assert.equal((await store.allocatedGpuCounts()).get(m) ?? 0, 0, 'the stopped instance holds no GPU');
      // Created stopped, a rental takes its GPUs at once (without placement): the same preference holds.
      const parked = await store.createInstance(inst({ machineId: m, target: 'stopped' }));
      assert.deepEqual(parked.gpuIndices, [1], 'created stopped: not GPU 0 either');
      assert.equal(await store.writeIntent(parked.id, parked.generation, { target: 'deleted', pendingOp: null, acquireGpus: false, now: ++t }), true);
      const b = await store.createInstance(inst({ machineId: m, numGpus: 2 }));
      assert.deepEqual(b.gpuIndices, [1, 2], 'not GPU 0, where the stopped instance runs');
      const again = await get(a.id);
      assert.equal(await store.writeIntent(a.id, again.generation, { target: 'running', pendingOp: null, acquireGpus: true, now: ++t }), true);
      assert.equal((await store.allocatedGpuCounts()).get(m), 3);
      // Only a preference: with no other GPU free, a rental takes a stopped instance's GPU (it then waits to start).
      assert.equal(await store.writeIntent(b.id, b.generation, { target: 'deleted', pendingOp: null, acquireGpus: false, now: ++t }), true);
      const started = await get(a.id);
      assert.equal(await store.writeIntent(a.id, started.generation, { target: 'stopped', pendingOp: null, acquireGpus: false, now: ++t }), true);
      await confirmStopped(a.id, m);
      const n = (await store.allocatedGpuCounts()).get(m) ?? 0;
      const c = await store.createInstance(inst({ machineId: m, numGpus: 3 - n }));
      assert.ok(c.gpuIndices.includes(0), `GPU 0 taken when needed: ${JSON.stringify(c.gpuIndices)}`);
    });
  });
}
