import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { NewInstance, Store } from '../../src/store/store.js';
import { TEST_STORES } from '../helpers/stores.js';
import { machineReg } from '../helpers/machines.js';

/** One behaviour for every store adapter (SQLite and PostgreSQL run the same bodies). */
for (const ts of TEST_STORES) {
  describe(`store contract: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: Store;
    let accountId: number;
    let machineId: number;
    const newInstance = (o: Partial<NewInstance> = {}): NewInstance => ({
      accountId,
      machineId,
      numGpus: 1,
      image: 'img',
      env: { A: '1' },
      requestedPorts: [],
      onstart: 'echo',
      entrypoint: null,
      args: null,
      runtype: 'ssh',
      label: null,
      diskGb: 10,
      offerType: 'on-demand',
      bidPrice: null,
      dphBase: 0.3,
      storageCost: 0.1,
      target: 'running',
      instanceKeyHash: (id) => `hash-${id}-${Math.random()}`,
      now: 1000,
      ...o,
    });
    /** A new instance on a machine of `host` with `gpus` GPUs, stopped and the stop confirmed (its GPU released); its lease is still held. */
    const stoppedOn = async (host: string, gpus: number, now: number): Promise<{ machine: number; id: number; token: string }> => {
      const machine = (await store.registerMachine(machineReg(host, accountId, gpus), Date.now())).id;
      const inst = await store.createInstance(newInstance({ machineId: machine }));
      await store.writeIntent(inst.id, 1, { target: 'stopped', pendingOp: null, acquireGpus: false, now: 1 });
      const [c] = await store.claimInstances({ owner: 'x', now, leaseMs: 1000, observeBefore: 0, limit: 1, machineIds: [machine] });
      assert.ok(c);
      const token = c.leaseToken as string;
      await store.applyObservation(inst.id, token, { status: 'stopped', statusMsg: null, exitCode: null, observedGeneration: 2, pendingOpDone: false, now });
      return { machine, id: inst.id, token };
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-store-'));
      store = new KyselyStore(ts.dialect(await ts.fresh(dir)));
      await store.migrate();
      await store.migrate(); // idempotent
      accountId = (await store.createAccount({ username: 'u', email: 'u@x', isAdmin: false, now: 1 })).id;
      machineId = (await store.registerMachine(machineReg('host-a', accountId), Date.now())).id;
    });
    after(async () => {
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('stores accounts and finds keys by hash only', async () => {
      await store.createApiKey({ accountId, keyHash: 'h1', name: 'k', scope: 'full', instanceId: null, now: 1 });
      assert.equal((await store.findApiKeyByHash('h1'))?.accountId, accountId);
      assert.equal(await store.findApiKeyByHash('nope'), undefined);
      const both = await store.findKeyWithAccount('h1');
      assert.equal(both?.key.accountId, accountId);
      assert.equal(both?.account.id, accountId);
      assert.equal(both?.account.username, 'u');
      assert.equal(await store.findKeyWithAccount('nope'), undefined);
    });

    it('bounds the accounts under a top-level account at any depth, teams included; deleted ones do not count', async () => {
      const top = await store.createAccount({ username: 'tree-top', email: 'top@x', isAdmin: false, now: 1 });
      const under = (parentId: number, name: string, isTeam = false): Promise<{ id: number }> =>
        store.createAccount({ username: name, email: `${name}@x`, isAdmin: false, isTeam, parentId, now: 1, maxInTree: 3 });
      const child = await under(top.id, 'tree-child');
      const grandchild = await under(child.id, 'tree-grandchild');
      await under(grandchild.id, 'tree-team', true);
      for (const parent of [top.id, child.id, grandchild.id]) {
        await assert.rejects(under(parent, `tree-more-${parent}`), (e: unknown) => e instanceof GantryError && e.code === 'ACCOUNT_LIMIT');
      }
      await store.markAccountDeleted(grandchild.id, 2);
      assert.ok((await under(child.id, 'tree-again')).id > 0, 'a deleted account frees its place');
      // Without a bound (an admin's), none applies.
      assert.ok((await store.createAccount({ username: 'tree-free', email: 'free@x', isAdmin: false, parentId: top.id, now: 1 })).id > 0);
    });

    it('re-registering a host updates it in place', async () => {
      const again = await store.registerMachine({ ...machineReg('host-a', accountId), hostname: 'renamed' }, Date.now());
      assert.equal(again.id, machineId);
      assert.equal(again.hostname, 'renamed');
      assert.equal((await store.listMachines(Date.now())).length, 1);
      // Online is judged at the caller's time: a host silent past the window is offline.
      assert.equal((await store.getMachine(machineId, again.lastSeenAt + 1000))?.online, true);
      assert.equal((await store.getMachine(machineId, again.lastSeenAt + 10 * 60_000))?.online, false);
    });

    it("a host's verification holds while its hardware does: other GPUs at a hello clear it", async () => {
      const reg = { ...machineReg('host-v', accountId), verified: false };
      const id = (await store.registerMachine(reg, Date.now())).id;
      await store.setMachineVerified(id, true);
      assert.equal((await store.registerMachine({ ...reg, hostname: 'moved', diskSpaceGb: 100 }, Date.now())).verified, true, 'a name or disk change keeps it');
      assert.equal((await store.registerMachine({ ...reg, gpuName: 'H100 SXM', numGpus: 8 }, Date.now())).verified, false);
      assert.equal((await store.registerMachine({ ...reg, verified: true }, Date.now())).verified, true, "a host joined with an admin's token is verified");
    });

    it('creates an instance with its GPUs, ports and key in one transaction', async () => {
      const inst = await store.createInstance(newInstance({ numGpus: 2, requestedPorts: [{ containerPort: 8080, proto: 'tcp' }] }));
      assert.deepEqual(inst.gpuIndices, [0, 1]);
      assert.deepEqual(inst.ports, [{ hostPort: 30000, containerPort: 8080, proto: 'tcp' }]);
      assert.equal(inst.status, 'created');
      assert.equal(inst.generation, 1);
      assert.equal((await store.allocatedGpuCounts()).get(machineId), 2);
      const second = await store.createInstance(newInstance());
      assert.equal(second.ports[0]?.containerPort, second.ports[0]?.hostPort, 'a default port listens on itself');
    });

    it('writes a status message, or only over the one expected (a compare-and-set)', async () => {
      const inst = await store.createInstance(newInstance({ numGpus: 0 }));
      assert.equal(await store.setStatusMsg(inst.id, 'copy: running'), true);
      assert.equal(await store.setStatusMsg(inst.id, 'copy: failed', 'something else'), false);
      assert.equal((await store.getInstance(inst.id))?.statusMsg, 'copy: running');
      assert.equal(await store.setStatusMsg(inst.id, 'copy: done', 'copy: running'), true);
      assert.equal((await store.getInstance(inst.id))?.statusMsg, 'copy: done');
    });

    it('never double-books GPUs under concurrent creates', async () => {
      const m2 = (await store.registerMachine(machineReg('host-b', accountId, 2), Date.now())).id;
      const results = await Promise.allSettled(Array.from({ length: 6 }, () => store.createInstance(newInstance({ machineId: m2, numGpus: 2 }))));
      const won = results.filter((r) => r.status === 'fulfilled');
      assert.equal(won.length, 1);
      for (const r of results)
        if (r.status === 'rejected') assert.ok(r.reason instanceof GantryError && r.reason.code === 'OFFER_UNAVAILABLE', String(r.reason));
      assert.equal((await store.allocatedGpuCounts()).get(m2), 2);
    });

    it('runs out of ports with a clear error and leaves nothing behind', async () => {
      const m3 = (await store.registerMachine({ ...machineReg('host-c', accountId, 0), portRangeStart: 31000, portRangeEnd: 31000 }, Date.now())).id;
      await store.createInstance(newInstance({ machineId: m3, numGpus: 0 }));
      const before = (await store.listInstances({ accountId: null })).length;
      await assert.rejects(
        store.createInstance(newInstance({ machineId: m3, numGpus: 0 })),
        (e: unknown) => e instanceof GantryError && e.code === 'PORTS_EXHAUSTED',
      );
      assert.equal((await store.listInstances({ accountId: null })).length, before, 'the failed create left no record');
    });

    it('writes intent with compare-and-set on the generation', async () => {
      const inst = await store.createInstance(newInstance());
      assert.equal(await store.writeIntent(inst.id, 1, { target: 'stopped', pendingOp: null, acquireGpus: false, now: 5 }), true);
      assert.equal(await store.writeIntent(inst.id, 1, { target: 'running', pendingOp: null, acquireGpus: false, now: 6 }), false, 'stale generation loses');
      const got = await store.getInstance(inst.id);
      assert.equal(got?.target, 'stopped');
      assert.equal(got?.generation, 2);
      assert.equal(got?.stopRequestedAt, 5);
    });

    it("an observation made before an intent keeps the intent's status message (a stop's reason)", async () => {
      const m = (await store.registerMachine(machineReg('host-reason', accountId), Date.now())).id;
      const inst = await store.createInstance(newInstance({ machineId: m }));
      const [row] = await store.claimInstances({ owner: 'r', now: 1000, leaseMs: 1000, observeBefore: 1000, limit: 10, machineIds: [m] });
      assert.equal(row?.id, inst.id);
      // The billing loop stops it while the pass, which read generation 1, is still talking to the host.
      const reason = 'Stopped: no credit';
      assert.equal(await store.writeIntent(inst.id, 1, { target: 'stopped', pendingOp: null, acquireGpus: false, statusMsg: reason, now: 1001 }), true);
      const stale = { status: 'running' as const, statusMsg: null, exitCode: null, observedGeneration: 1, pendingOpDone: false, now: 1002 };
      assert.equal(await store.applyObservation(inst.id, row?.leaseToken as string, stale), true);
      const got = await store.getInstance(inst.id);
      assert.equal(got?.status, 'running', "the runtime's truth is recorded");
      assert.equal(got?.statusMsg, reason, 'the reason written with the stop survives the older pass');
      await store.releaseLease(inst.id, row?.leaseToken as string, 1003);
    });

    it('claims due rows with a lease; a stale token applies nothing', async () => {
      const m4 = (await store.registerMachine(machineReg('host-d', accountId), Date.now())).id;
      const a = await store.createInstance(newInstance({ machineId: m4 }));
      const b = await store.createInstance(newInstance({ machineId: m4 }));
      const now = 10_000;
      const claim = (owner: string, at: number) =>
        store.claimInstances({ owner, now: at, leaseMs: 1000, observeBefore: at - 500, limit: 10, machineIds: [m4] });
      const first = await claim('r1', now);
      assert.deepEqual(first.map((i) => i.id).sort(), [a.id, b.id].sort());
      assert.equal((await claim('r2', now + 10)).length, 0, 'leased rows are not claimed twice');
      const none = { owner: 'r9', now: now + 5000, leaseMs: 1000, observeBefore: now + 4500, limit: 10 };
      assert.equal((await store.claimInstances({ ...none, machineIds: [] })).length, 0, 'no connected host: nothing to claim');
      assert.equal((await store.claimInstances({ ...none, machineIds: [m4 + 1000, m4 + 1001] })).length, 0, 'only rows of the hosts named');
      const tokenA = first.find((i) => i.id === a.id)?.leaseToken as string;
      // The lease expires: another replica takes the row over; the first one's token is then stale.
      const taken = await claim('r2', now + 2000);
      assert.equal(taken.length, 2);
      assert.equal(
        await store.applyObservation(a.id, tokenA, { status: 'running', statusMsg: null, exitCode: null, observedGeneration: 1, pendingOpDone: false, now }),
        false,
      );
      assert.equal((await store.getInstance(a.id))?.status, 'created');
      const tokenA2 = taken.find((i) => i.id === a.id)?.leaseToken as string;
      assert.equal(
        await store.applyObservation(a.id, tokenA2, { status: 'running', statusMsg: null, exitCode: null, observedGeneration: 1, pendingOpDone: false, now }),
        true,
      );
      await store.releaseLease(a.id, tokenA2, now + 2000);
      // Nothing pending and just processed: not due until the observe interval passes.
      assert.equal((await claim('r3', now + 2100)).filter((i) => i.id === a.id).length, 0);
      // A hint (the workload just exited) makes a row claimable before it is due.
      const hinted = await store.claimInstances({
        owner: 'r3',
        now: now + 2200,
        leaseMs: 1000,
        observeBefore: now + 1700,
        limit: 10,
        machineIds: [m4],
        dueIds: [a.id],
      });
      assert.deepEqual(
        hinted.map((i) => i.id),
        [a.id],
      );
      const hintToken = hinted[0]?.leaseToken as string;
      await store.releaseLease(a.id, hintToken, now + 2200);
      // Running with every request carried out: at rest, the host sweep's to compare (decision 017), so the
      // observe interval alone never makes it due.
      assert.equal((await claim('r3', now + 9000)).filter((i) => i.id === a.id).length, 0);
      // Unsettled (its host went silent): due again by time, once the observe interval has passed.
      const [held] = await store.claimInstances({ owner: 'r4', now: now + 9000, leaseMs: 1000, observeBefore: 0, limit: 1, machineIds: [m4], dueIds: [a.id] });
      assert.equal(held?.id, a.id);
      const unknown = { status: 'unknown' as const, statusMsg: 'host offline', exitCode: null, observedGeneration: 1, pendingOpDone: false, now: now + 9000 };
      assert.equal(await store.applyObservation(a.id, held?.leaseToken as string, unknown), true);
      await store.releaseLease(a.id, held?.leaseToken as string, now + 9000);
      assert.equal((await claim('r5', now + 9100)).filter((i) => i.id === a.id).length, 0, 'looked at just now');
      assert.equal((await claim('r5', now + 9600)).filter((i) => i.id === a.id).length, 1);
    });

    it('releases sent together (one statement) each keep their own token check and time', async () => {
      const m = (await store.registerMachine(machineReg('host-release', accountId), Date.now())).id;
      const ids = [];
      for (let i = 0; i < 4; i++) ids.push((await store.createInstance(newInstance({ machineId: m }))).id);
      const claimed = await store.claimInstances({ owner: 'r', now: 50_000, leaseMs: 1000, observeBefore: 50_000, limit: 10, machineIds: [m] });
      assert.equal(claimed.length, 4);
      const token = claimed[0]?.leaseToken as string;
      const [a, b, c, d] = ids as [number, number, number, number];
      // Not awaited one by one: the first goes alone, the rest wait for it and go in one UPDATE.
      await Promise.all([
        store.releaseLease(a, token, 50_001),
        store.releaseLease(b, token, 50_002),
        store.releaseLease(c, 'not-its-token', 50_003),
        store.releaseLease(d, token, 50_004),
      ]);
      const got = await Promise.all(ids.map((id) => store.getInstance(id)));
      assert.deepEqual(
        got.map((i) => i?.leaseToken ?? null),
        [null, null, token, null],
        'a stale token releases nothing',
      );
      assert.deepEqual(
        got.map((i, k) => (k === 2 ? null : i?.lastProcessedAt)),
        [50_001, 50_002, null, 50_004],
      );
      await store.releaseLease(c, token, 50_005);
      assert.equal((await store.getInstance(c))?.leaseToken, null);
    });

    it('releases GPUs on a confirmed stop and everything on destroy', async () => {
      const { machine: m5, id, token } = await stoppedOn('host-e', 1, 1e6);
      const inst = { id };
      assert.equal((await store.allocatedGpuCounts()).get(m5) ?? 0, 0);
      // Someone else rents the GPU; starting the stopped instance must fail without changing it.
      const other = await store.createInstance(newInstance({ machineId: m5 }));
      await assert.rejects(
        store.writeIntent(inst.id, 2, { target: 'running', pendingOp: null, acquireGpus: true, now: 2 }),
        (e: unknown) => e instanceof GantryError && e.code === 'GPUS_UNAVAILABLE',
      );
      assert.equal((await store.getInstance(inst.id))?.target, 'stopped');
      await store.releaseLease(inst.id, token, 1e6);
      const claimed = await store.claimInstances({ owner: 'y', now: 3e6, leaseMs: 1000, observeBefore: 3e6, limit: 5, machineIds: [m5] });
      const o = claimed.find((i) => i.id === other.id);
      assert.ok(o);
      await store.applyObservation(other.id, o.leaseToken as string, {
        status: 'destroyed',
        statusMsg: null,
        exitCode: null,
        observedGeneration: 1,
        pendingOpDone: false,
        now: 3e6,
      });
      const gone = await store.getInstance(other.id);
      assert.equal(gone?.status, 'destroyed');
      assert.deepEqual(gone?.ports, []);
      assert.equal((await store.allocatedGpuCounts()).get(m5) ?? 0, 0);
      assert.equal(
        (await store.listInstances({ accountId: null })).some((i) => i.id === other.id),
        false,
        'destroyed instances are not listed',
      );
      assert.equal(await store.writeIntent(inst.id, 2, { target: 'running', pendingOp: null, acquireGpus: true, now: 4 }), true, 'the GPU is free again');
    });

    it('a stopped instance does not start on a GPU its machine no longer has', async () => {
      const { id, token } = await stoppedOn('host-f', 1, 5e6);
      const inst = { id };
      await store.releaseLease(inst.id, token, 5e6);
      // The host says hello again without its GPU (another inventory): the instance stays stopped, saying why.
      await store.registerMachine(machineReg('host-f', accountId, 0), Date.now());
      await assert.rejects(
        store.writeIntent(inst.id, 2, { target: 'running', pendingOp: null, acquireGpus: true, now: 2 }),
        (e: unknown) => e instanceof GantryError && e.code === 'GPUS_UNAVAILABLE' && /no longer there/.test(e.message),
      );
      assert.equal((await store.getInstance(inst.id))?.target, 'stopped');
      await store.registerMachine(machineReg('host-f', accountId, 1), Date.now());
      assert.equal(await store.writeIntent(inst.id, 2, { target: 'running', pendingOp: null, acquireGpus: true, now: 3 }), true, 'back with its GPU');
    });

    it('deletes a machine only when no other account rents on it; the record stays for history', async () => {
      const client = (await store.createAccount({ username: 'renter', email: 'r@x', isAdmin: false, now: 1 })).id;
      const m = (await store.registerMachine(machineReg('host-gone', accountId, 2), 1000)).id;
      const token = await store.createHostToken({ accountId, tokenHash: 'gone-token', name: 'host', now: 1 });
      assert.equal(await store.bindHostToken(token.id, m), true);
      const own = await store.createInstance(newInstance({ machineId: m, target: 'stopped' }));
      const theirs = await store.createInstance(newInstance({ machineId: m, accountId: client, target: 'stopped' }));
      const offer = await store.upsertVolumeOffer({ machineId: m, ownerId: accountId, sizeGb: 10, priceDiskPerGbMonth: 0.1, endDate: null, now: 1000 });
      const vol = await store.createVolume({ accountId: client, offerId: offer.id, sizeGb: 1, name: null, now: 1000 });

      const refused = await store.deleteMachine(m, 2000, 'gone');
      assert.deepEqual(refused, { deleted: false, instanceIds: [theirs.id], volumeIds: [vol.id] });
      assert.ok(
        (await store.listMachines(2000)).some((x) => x.id === m),
        'a refused delete changes nothing',
      );
      assert.equal((await store.getInstance(own.id))?.status, 'created');

      // The renter asks for the destroy (it waits for the host) and deletes the volume: nothing of theirs blocks now.
      assert.equal(await store.writeIntent(theirs.id, theirs.generation, { target: 'deleted', pendingOp: null, acquireGpus: false, now: 2500 }), true);
      await store.deleteVolume(vol.id, 2500);
      const done = await store.deleteMachine(m, 3000, 'destroyed with machine');
      assert.deepEqual(done, { deleted: true, destroyedIds: [own.id, theirs.id], volumeIds: [] });
      for (const id of [own.id, theirs.id]) {
        const i = await store.getInstance(id);
        assert.equal(i?.status, 'destroyed');
        assert.equal(i?.statusMsg, 'destroyed with machine');
        assert.equal(i?.destroyedAt, 3000);
      }
      assert.equal((await store.allocatedGpuCounts()).get(m) ?? 0, 0, 'GPUs are free');
      assert.equal(
        (await store.listMachines(3000)).some((x) => x.id === m),
        false,
        'gone from listings',
      );
      assert.equal(await store.getMachine(m, 3000), undefined);
      assert.equal((await store.getMachine(m, 3000, { includeDeleted: true }))?.hostname, 'h', 'history still resolves');
      assert.equal(await store.findMachineByHostKey('host-gone', 3000), undefined);
      assert.equal((await store.findHostTokenByHash('gone-token'))?.revokedAt, 3000, 'its host tokens are revoked');
      assert.equal((await store.listVolumeOffers({ listedOnly: true, machineId: m })).length, 0, 'its volume offer is unlisted');
      await assert.rejects(store.createInstance(newInstance({ machineId: m })), (e: unknown) => e instanceof GantryError && e.code === 'OFFER_NOT_FOUND');
      await assert.rejects(store.deleteMachine(m, 4000, 'again'), (e: unknown) => e instanceof GantryError && e.code === 'MACHINE_NOT_FOUND');
      // The same host may join again: as a new machine.
      const again = await store.registerMachine(machineReg('host-gone', accountId, 2), 5000);
      assert.notEqual(again.id, m);
    });

    it('keeps result blobs until they expire', async () => {
      await store.putResult('tok', 'text', 100);
      assert.equal(await store.getResult('tok', 50), 'text');
      assert.equal(await store.getResult('tok', 150), undefined);
      await store.purgeResults(150);
      assert.equal(await store.getResult('tok', 50), undefined);
    });

    it('hands each host call to one taker, only for the machines asked, never once expired', async () => {
      const call = (token: string, machineId: number, expiresAt: number) => ({ token, machineId, op: 'logs', args: '{"instanceId":1}', expiresAt });
      await store.requestHostCall(call('c1', 7, 1000));
      await store.requestHostCall(call('c2', 8, 1000));
      await store.requestHostCall(call('c3', 7, 100));
      const [first, second] = await Promise.all([store.takeHostCalls([7], 500), store.takeHostCalls([7], 500)]);
      assert.deepEqual([...first, ...second], [call('c1', 7, 1000)], 'c1 once; c3 had expired');
      assert.deepEqual(await store.takeHostCalls([7], 500), []);
      assert.deepEqual(await store.takeHostCalls([8], 500), [call('c2', 8, 1000)]);
    });

    it("keeps an account's newest results, as many as asked; other accounts' and unowned ones are untouched", async () => {
      for (let i = 1; i <= 4; i++) {
        await store.putResult(`own${i}`, `r${i}`, 1000 + i);
        await store.ownResult(`own${i}`, 1, 2);
      }
      await store.putResult('other', 'x', 500);
      await store.ownResult('other', 2, 2);
      await store.putResult('free', 'y', 500);
      const got = async (tokens: string[]) => Promise.all(tokens.map((t) => store.getResult(t, 0)));
      assert.deepEqual(await got(['own1', 'own2', 'own3', 'own4', 'other', 'free']), [undefined, undefined, 'r3', 'r4', 'x', 'y']);
      await store.putResult('own5', 'r5', 1005);
      await store.ownResult('own5', 1, 0);
      assert.deepEqual(await got(['own3', 'own4', 'own5']), ['r3', 'r4', 'r5'], '0: no bound');
      // Asked in the same moment (same expiry): the one just owned is the one kept.
      await store.putResult('tie0', 't0', 2000);
      await store.ownResult('tie0', 3, 1);
      await store.putResult('tie1', 't1', 2000);
      await store.ownResult('tie1', 3, 1);
      assert.deepEqual(await got(['tie0', 'tie1']), [undefined, 't1']);
    });

    it('takes a result once: the first of the tokens asked that has one, unexpired', async () => {
      await store.putResult('t1.failed', 'no', 1000);
      await store.putResult('t1.answer', 'yes', 1000);
      await store.putResult('t2.answer', 'old', 100);
      assert.deepEqual(await store.takeResult(['t1.answer', 't1.failed'], 500), { token: 't1.answer', content: 'yes' });
      assert.equal(await store.takeResult(['t1.answer', 't1.failed'], 500), undefined, 'both taken');
      assert.equal(await store.takeResult(['t2.answer'], 500), undefined, 'expired');
      assert.equal(await store.takeResult([], 500), undefined);
    });

    it('withdraws a host call only while nobody took it', async () => {
      await store.requestHostCall({ token: 'w1', machineId: 9, op: 'logs', args: '{}', expiresAt: 1000 });
      await store.requestHostCall({ token: 'w2', machineId: 10, op: 'logs', args: '{}', expiresAt: 1000 });
      assert.equal(await store.withdrawHostCall('w1'), true);
      assert.deepEqual(await store.takeHostCalls([9], 500), [], 'a withdrawn call is not taken');
      assert.equal((await store.takeHostCalls([10], 500)).length, 1);
      assert.equal(await store.withdrawHostCall('w2'), false, 'taken already');
    });
  });
}
