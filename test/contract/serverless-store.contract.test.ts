import assert from 'node:assert/strict';
import { ROUTE_KEYS_AFTER_INSTANCE } from '../../src/domain/serverless/route-keys.js';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { DEFAULT_ENDPOINT_PARAMS } from '../../src/domain/serverless/params.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { EndpointRecord } from '../../src/domain/serverless/records.js';
import type { Store } from '../../src/store/store.js';
import { machineReg } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';

/** The serverless part of the store port, one behaviour for every adapter. */
for (const ts of TEST_STORES) {
  describe(`serverless store contract: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: Store;
    let other: Store;
    let accountId: number;
    let machineId: number;
    let n = 0;
    const endpoint = (name = `ep${n + 1}`) =>
      store.createEndpoint({ accountId, name, apiKey: `gek_${name}_${++n}`, params: DEFAULT_ENDPOINT_PARAMS, aliasOf: null, now: 10 });

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-sl-store-'));
      const location = await ts.fresh(dir);
      store = new KyselyStore(ts.dialect(location));
      await store.migrate();
      other = new KyselyStore(ts.dialect(location));
      accountId = (await store.createAccount({ username: 'u', email: 'u@x', isAdmin: false, now: 1 })).id;
      machineId = (await store.registerMachine(machineReg('host-a', accountId), Date.now())).id;
    });
    after(async () => {
      await other.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('names are unique per account among live endpoints; a deleted one frees its name', async () => {
      const ep = await endpoint('dup');
      await assert.rejects(endpoint('dup'), (e: unknown) => e instanceof GantryError && e.code === 'NAME_TAKEN');
      assert.equal((await store.findEndpointByName(accountId, 'dup'))?.id, ep.id);
      assert.equal((await store.findEndpointByKey(ep.apiKey))?.id, ep.id);
      assert.ok(await store.writeEndpointIntent(ep.id, ep.generation, { target: 'deleted', status: 'deleted', statusMsg: null, stop: null, now: 20 }));
      assert.equal(await store.findEndpointByName(accountId, 'dup'), undefined);
      assert.ok(!(await store.listEndpoints(accountId)).some((e) => e.id === ep.id));
      assert.notEqual((await endpoint('dup')).id, ep.id);
    });

    it('a rename writes only while nothing routes to the old name, no deployment owns it, and (an alias) nothing routes to the new one', async () => {
      const alias = (name: string, of: string) =>
        store.createEndpoint({ accountId, name, apiKey: `gek_${name}_${++n}`, params: DEFAULT_ENDPOINT_PARAMS, aliasOf: of, now: 10 });
      const rename = (ep: { id: number; name: string; aliasOf: string | null }, to: string, s: Store = store) =>
        s.renameEndpoint({ id: ep.id, accountId, from: ep.name, to, isAlias: ep.aliasOf !== null, now: 20 });
      const target = await endpoint('rn-target');
      const a = await alias('rn-alias', 'rn-target');
      // What updateEndpoint checked, gone stale: an alias routes to it now, or another renamed it first.
      assert.equal(await rename(target, 'rn-moved'), false);
      assert.equal(await rename({ ...a, name: 'rn-stale' }, 'rn-x'), false);
      // An alias whose target was deleted (a stop with force): the name it routes to is free.
      const free = await endpoint('rn-free');
      const dangling = await alias('rn-dangling', 'rn-free');
      assert.ok(await store.writeEndpointIntent(free.id, free.generation, { target: 'deleted', status: 'deleted', statusMsg: null, stop: null, now: 15 }));
      assert.equal(await rename(a, 'rn-free'), false, 'an alias takes no name an alias routes to');
      // Two renames at once, through two connections: of the alias taking the free name and a plain endpoint taking it, one wins.
      const plain = await endpoint('rn-plain');
      const [x, y] = await Promise.allSettled([rename(dangling, 'rn-d2'), rename(plain, 'rn-d2', other)]);
      assert.equal([x, y].filter((r) => r.status === 'fulfilled' && r.value).length, 1);
      assert.ok([x, y].some((r) => r.status === 'rejected' && r.reason instanceof GantryError && r.reason.code === 'NAME_TAKEN'));
      assert.equal(await rename(a, 'rn-alias-2'), true);
      assert.equal((await store.getEndpoint(a.id))?.name, 'rn-alias-2');
      assert.equal((await store.findEndpointByName(accountId, 'rn-alias-2'))?.id, a.id);
      const wg = await store.createWorkergroup({
        accountId,
        endpointId: plain.id,
        template: { image: 'i', env: {}, ports: [], onstart: null, args: null, diskGb: 8 },
        placement: { conditions: [] },
        launchArgs: null,
        gpuRamGb: null,
        testWorkers: 0,
        now: 1,
      });
      const fresh = (await store.getEndpoint(plain.id))!;
      await store.createDeployment({ accountId, name: fresh.name, tag: 'default', endpointId: plain.id, workergroupId: wg.id, now: 1 });
      assert.equal(await rename(fresh, 'rn-y'), false, "a deployment's endpoint keeps its name");
    });

    it('intent writes are compare-and-set on the generation (and the status decided on) and keep stop options', async () => {
      const ep = await endpoint();
      const w = { target: 'stopped' as const, status: 'stopping' as const, statusMsg: null, stop: { drain: true, deadline: 99, rejects: true }, now: 30 };
      const [a, b] = await Promise.all([store.writeEndpointIntent(ep.id, ep.generation, w), other.writeEndpointIntent(ep.id, ep.generation, w)]);
      assert.equal(Number(a) + Number(b), 1, 'exactly one of two concurrent writers wins');
      const got = await store.getEndpoint(ep.id);
      assert.equal(got?.generation, ep.generation + 1);
      assert.equal(got?.stopDrain, true);
      assert.equal(got?.stopDeadline, 99);
      assert.equal(got?.stopRequestedAt, 30);
      assert.deepEqual([got?.stopRejectQueued, got?.stopRejects], [false, true]);
      // Decided on a status a pass has moved since (without the generation): nothing is written.
      const moved = { ...w, target: 'deleted' as const, status: 'deleting' as const, stop: null, now: 31 };
      assert.equal(await store.writeEndpointIntent(ep.id, ep.generation + 1, { ...moved, from: 'running' }), false);
      assert.equal(await store.writeEndpointIntent(ep.id, ep.generation + 1, { ...moved, from: 'stopping' }), true);
    });

    it('a stop keeps its typed phase, deadlines and counts; gateways add to the counts concurrently', async () => {
      const ep = await endpoint();
      const now = Date.now();
      const stop = { target: 'stopped' as const, status: 'stopping' as const, statusMsg: null, stop: { drain: true, deadline: now + 60_000 }, now };
      assert.ok(await store.writeEndpointIntent(ep.id, ep.generation, { ...stop, stopPhase: 'closing' }));
      let got = (await store.getEndpoint(ep.id))!;
      assert.deepEqual(
        [got.stopPhase, got.stopDeadline, got.stopWorkersDeadline, got.stopDrainTimedOut, got.stopAnswered, got.stopFailed],
        ['closing', now + 60_000, null, false, 0, 0],
      );
      await Promise.all([store.countStopRequests(ep.id, 2, 1, 1), other.countStopRequests(ep.id, 3, 0)]);
      const claimed = (await store.claimEndpoints({ owner: 'a', now, leaseMs: 10_000, limit: 100 })).find((e) => e.id === ep.id)!;
      await store.countStopRequests(ep.id, 0, 4);
      const memory = { activeLowSince: null, totalLowSince: null };
      const pass = { phase: 'stopping_workers' as const, workersDeadline: now + 5_000, drainTimedOut: true, failed: 3, rejected: 2 };
      assert.equal(
        await store.applyEndpointPass(ep.id, claimed.leaseToken as string, { generation: claimed.generation, status: 'stopping', stop: pass, memory, now }),
        'applied',
      );
      got = (await store.getEndpoint(ep.id))!;
      assert.deepEqual(
        [got.stopPhase, got.stopWorkersDeadline, got.stopDrainTimedOut, got.stopAnswered, got.stopFailed, got.stopRejected],
        ['stopping_workers', now + 5_000, true, 5, 8, 3],
        'failures of the pass are added to those gateways reported during it, not written over them',
      );
      const again = (await store.claimEndpoints({ owner: 'a', now, leaseMs: 10_000, limit: 100 })).find((e) => e.id === ep.id)!;
      await store.applyEndpointPass(ep.id, again.leaseToken as string, { generation: again.generation, status: 'stopped', memory, now });
      got = (await store.getEndpoint(ep.id))!;
      assert.equal(got.stopPhase, null, 'a status other than stopping ends the phase');
      assert.equal(got.stopFailed, 8, 'the counts stay readable after the stop');
      assert.ok(await store.writeEndpointIntent(ep.id, got.generation, { target: 'running', status: 'pending', statusMsg: null, stop: null, now }));
      await store.countStopRequests(ep.id, 9, 9);
      got = (await store.getEndpoint(ep.id))!;
      assert.deepEqual(
        [got.stopPhase, got.stopAnswered, got.stopFailed, got.stopDrainTimedOut],
        [null, 0, 0, false],
        'a start zeroes them; late reports are dropped',
      );
      // The delete of a stopped endpoint keeps what its stop counted (calls waiting on that stop read them after it).
      const d = await endpoint();
      assert.ok(await store.writeEndpointIntent(d.id, d.generation, { ...stop, stopPhase: 'closing' }));
      await store.countStopRequests(d.id, 3, 2, 1);
      const dc = (await store.claimEndpoints({ owner: 'a', now, leaseMs: 10_000, limit: 100 })).find((e) => e.id === d.id)!;
      await store.applyEndpointPass(d.id, dc.leaseToken as string, { generation: dc.generation, status: 'stopped', memory, now });
      const del = {
        target: 'deleted' as const,
        status: 'deleting' as const,
        statusMsg: null,
        stop: { drain: false, deadline: now },
        now,
        from: 'stopped' as const,
      };
      assert.ok(await store.writeEndpointIntent(d.id, dc.generation, del));
      got = (await store.getEndpoint(d.id))!;
      assert.deepEqual([got.stopAnswered, got.stopFailed, got.stopRejected], [3, 2, 1]);
      // A delete that cuts a stop short (from stopping) is no clean end of it: its counts start from zero.
      const e = await endpoint();
      assert.ok(await store.writeEndpointIntent(e.id, e.generation, { ...stop, stopPhase: 'closing' }));
      await store.countStopRequests(e.id, 3, 2, 1);
      assert.ok(await store.writeEndpointIntent(e.id, e.generation + 1, { ...del, from: 'stopping' as const }));
      got = (await store.getEndpoint(e.id))!;
      assert.deepEqual([got.stopAnswered, got.stopFailed, got.stopRejected], [0, 0, 0]);
      // Nor one that follows a failed stop.
      const f = await endpoint();
      assert.ok(await store.writeEndpointIntent(f.id, f.generation, { ...stop, stopPhase: 'closing' }));
      await store.countStopRequests(f.id, 3, 2, 1);
      const fc = (await store.claimEndpoints({ owner: 'a', now, leaseMs: 10_000, limit: 100 })).find((x) => x.id === f.id)!;
      await store.applyEndpointPass(f.id, fc.leaseToken as string, { generation: fc.generation, status: 'failed', memory, now });
      assert.ok(await store.writeEndpointIntent(f.id, fc.generation, { ...del, from: 'failed' as const }));
      got = (await store.getEndpoint(f.id))!;
      assert.deepEqual([got.stopAnswered, got.stopFailed, got.stopRejected], [0, 0, 0]);
    });

    it("a repeated stop's timeout shortens a waiting stop's drain: only that stop's, only while it waits, never later", async () => {
      const now = Date.now();
      const stopped = async (drain: boolean) => {
        const ep = await endpoint();
        const w = {
          target: 'stopped' as const,
          status: 'stopping' as const,
          statusMsg: null,
          stop: { drain, deadline: now + 60_000 },
          stopPhase: 'closing' as const,
          now,
        };
        assert.ok(await store.writeEndpointIntent(ep.id, ep.generation, w));
        return (await store.getEndpoint(ep.id))!;
      };
      const a = await stopped(true);
      await store.countStopRequests(a.id, 2, 1);
      assert.equal(await store.shortenStopDrain(a.id, a.generation - 1, now, now), false, 'another stop (an older generation)');
      assert.equal(await store.shortenStopDrain(a.id, a.generation, now + 61_000, now), false, 'never later than its own deadline');
      assert.equal(await other.shortenStopDrain(a.id, a.generation, now + 5, now), true);
      const got = (await store.getEndpoint(a.id))!;
      assert.deepEqual(
        [got.stopDeadline, got.generation, got.stopPhase, got.stopRequestedAt, got.stopAnswered, got.stopFailed, got.stopDrain],
        [now + 5, a.generation, 'closing', now, 2, 1, true],
        'the same stop, its counts kept',
      );
      assert.equal(await store.shortenStopDrain(a.id, a.generation, now + 5, now), false, 'shortened to that already');
      const plain = await stopped(false);
      assert.equal(await store.shortenStopDrain(plain.id, plain.generation, now, now), false, 'a stop that waits for nothing');
      const atWorkers = await stopped(true);
      const claimed = (await store.claimEndpoints({ owner: 'a', now, leaseMs: 10_000, limit: 100 })).find((e) => e.id === atWorkers.id)!;
      const pass = { phase: 'stopping_workers' as const, workersDeadline: now + 5_000, drainTimedOut: false, failed: 0, rejected: 0 };
      const memory = { activeLowSince: null, totalLowSince: null };
      await store.applyEndpointPass(atWorkers.id, claimed.leaseToken as string, {
        generation: claimed.generation,
        status: 'stopping',
        stop: pass,
        memory,
        now,
      });
      assert.equal(await store.shortenStopDrain(atWorkers.id, atWorkers.generation, now, now), false, 'its workers are asked to stop already');
    });

    it('claims give each endpoint to one replica; a stale lease token writes nothing', async () => {
      await endpoint();
      const now = Date.now();
      const claim = (s: Store, owner: string) => s.claimEndpoints({ owner, now, leaseMs: 10_000, limit: 100 });
      // PostgreSQL replicas claim at the same moment (SKIP LOCKED); SQLite has one writer, so one after the other.
      const [mine, theirs] =
        ts.name === 'postgres' ? await Promise.all([claim(store, 'a'), claim(other, 'b')]) : [await claim(store, 'a'), await claim(other, 'b')];
      const ids = [...mine, ...theirs].map((e) => e.id);
      assert.equal(new Set(ids).size, ids.length, 'no endpoint claimed twice');
      assert.ok(ids.length >= 1);
      const first = (mine[0] ?? theirs[0])!;
      assert.equal(
        await store.applyEndpointPass(first.id, 'stale-token', { generation: first.generation, memory: { activeLowSince: 1, totalLowSince: null }, now }),
        'lost',
      );
      assert.equal(
        await store.applyEndpointPass(first.id, first.leaseToken as string, {
          generation: first.generation,
          status: 'running',
          memory: { activeLowSince: 1, totalLowSince: null },
          now,
        }),
        'applied',
      );
      assert.deepEqual((await store.getEndpoint(first.id))?.memory, { activeLowSince: 1, totalLowSince: null });
      assert.equal(
        (await store.claimEndpoints({ owner: 'c', now, leaseMs: 10_000, limit: 100 })).some((e) => e.id === first.id),
        true,
        'released: claimable again',
      );
      const expired = await store.claimEndpoints({ owner: 'd', now: now + 20_000, leaseMs: 10_000, limit: 100 });
      assert.ok(expired.length >= ids.length - 1, "an expired lease is taken over (a dead replica's endpoints move on)");
    });

    it('a pass that began before a stop does not overwrite it (the generation guards status)', async () => {
      const ep = await endpoint();
      const now = Date.now();
      const claimed = (await store.claimEndpoints({ owner: 'a', now, leaseMs: 10_000, limit: 100 })).find((e) => e.id === ep.id)!;
      assert.ok(
        await store.writeEndpointIntent(ep.id, ep.generation, {
          target: 'stopped',
          status: 'stopping',
          statusMsg: null,
          stop: { drain: false, deadline: now },
          now,
        }),
      );
      const memory = { activeLowSince: 5, totalLowSince: null };
      assert.equal(
        await store.applyEndpointPass(ep.id, claimed.leaseToken as string, { generation: claimed.generation, status: 'running', memory, now }),
        'superseded',
      );
      const after = await store.getEndpoint(ep.id);
      assert.equal(after?.status, 'stopping');
      assert.equal(after?.target, 'stopped');
      assert.equal(
        (await store.claimEndpoints({ owner: 'b', now, leaseMs: 10_000, limit: 100 })).some((e) => e.id === ep.id),
        true,
        'the lease was released',
      );
    });

    it('a resting endpoint is passed by until its rest ends, an intent or a wake at any replica; a wake during a pass is kept', async () => {
      const running = await endpoint();
      const now = Date.now();
      assert.ok(await store.writeEndpointIntent(running.id, running.generation, { target: 'stopped', status: 'stopped', statusMsg: null, stop: null, now }));
      const ep = (await store.getEndpoint(running.id))!;
      const memory = { activeLowSince: null, totalLowSince: null };
      const claim = async (at: number) => (await store.claimEndpoints({ owner: 'r', now: at, leaseMs: 10_000, limit: 100 })).find((e) => e.id === ep.id);
      const apply = (c: EndpointRecord, restUntil?: number) =>
        store.applyEndpointPass(ep.id, c.leaseToken as string, { generation: c.generation, memory, now, ...(restUntil !== undefined ? { restUntil } : {}) });
      const restUntil = async () => (await store.getEndpoint(ep.id))?.restUntil;

      assert.equal(await apply((await claim(now))!, now + 5_000), 'applied');
      assert.equal(await restUntil(), now + 5_000);
      assert.equal(await claim(now + 4_999), undefined, 'resting: passed by');
      const due = (await claim(now + 5_000))!;
      assert.ok(due, 'claimed when its rest ends');
      await other.wakeEndpoint(ep.id);
      assert.equal(await apply(due, now + 9_000), 'applied');
      assert.equal(await restUntil(), null, 'a wake during the pass wins over the rest that pass decided');

      assert.equal(await apply((await claim(now))!, now + 9_000), 'applied');
      await other.wakeEndpoint(ep.id);
      const woken = (await claim(now + 1))!;
      assert.ok(woken, 'woken at another replica: claimed at once');
      assert.equal(await apply(woken, now + 9_000), 'applied');
      assert.equal(await restUntil(), null, 'the pass claimed after a wake cannot tell it from one during it: it rests it not');
      assert.equal(await apply((await claim(now + 2))!, now + 9_000), 'applied');
      assert.equal(await restUntil(), now + 9_000, 'the next pass rests it again');
      assert.ok(
        await store.writeEndpointIntent(ep.id, (await store.getEndpoint(ep.id))!.generation, {
          target: 'running',
          status: 'pending',
          statusMsg: null,
          stop: null,
          now,
        }),
      );
      assert.equal(await restUntil(), null, 'an intent ends the rest');
      const started = (await claim(now + 1))!;
      assert.ok(started);
      assert.equal(await apply(started), 'applied');
      assert.equal(await restUntil(), null, 'a pass that decides no rest leaves none');
    });

    it('a running endpoint rests as a stopped one; a wake ends it, wakeResting writes only resting ones', async () => {
      const [ep, busy] = [await endpoint(), await endpoint()];
      const now = Date.now();
      const memory = { activeLowSince: null, totalLowSince: null };
      const claim = async (id: number, at = now) => (await store.claimEndpoints({ owner: 'r', now: at, leaseMs: 10_000, limit: 100 })).find((e) => e.id === id);
      const apply = (c: EndpointRecord, restUntil?: number) =>
        store.applyEndpointPass(c.id, c.leaseToken as string, { generation: c.generation, memory, now, ...(restUntil !== undefined ? { restUntil } : {}) });
      const restUntil = async (id: number) => (await store.getEndpoint(id))?.restUntil;

      // A wake while a pass is under way (the pass read the endpoint before it): that pass does not rest it.
      const first = (await claim(ep.id))!;
      await other.wakeEndpoint(ep.id);
      assert.equal(await restUntil(ep.id), 0, 'written though it did not rest');
      assert.equal(await apply(first, now + 5_000), 'applied');
      assert.equal(await restUntil(ep.id), null, 'the wake during the pass wins');
      assert.equal(await apply((await claim(ep.id))!, now + 5_000), 'applied');
      assert.equal(await restUntil(ep.id), now + 5_000);
      assert.equal(await claim(ep.id, now + 1), undefined, 'resting: passed by');

      assert.equal(await other.wakeResting([]), 0);
      assert.equal(await other.wakeResting([ep.id, busy.id]), 1, 'only the resting one is written');
      assert.equal(await restUntil(busy.id), null, 'one that does not rest is left as it is');
      assert.equal(await restUntil(ep.id), 0);
      assert.equal(await other.wakeResting([ep.id]), 0, 'woken already');
      assert.equal(await apply((await claim(ep.id, now + 1))!, now + 5_000), 'applied');
      assert.equal(await restUntil(ep.id), null, 'the pass claimed after a wake does not rest it');
      assert.equal(await apply((await claim(ep.id, now + 2))!, now + 5_000), 'applied');
      await other.wakeEndpoint(ep.id);
      const woken = await claim(ep.id, now + 3);
      assert.ok(woken, 'claimed at once');
      assert.equal(await apply(woken), 'applied');
      assert.equal(await restUntil(ep.id), null, 'a pass that decides no rest leaves none');
    });

    it('workergroups, deployments and workers link up; reports are upserted', async () => {
      const ep = await endpoint();
      const template = { image: 'img', env: { A: '1' }, ports: [{ containerPort: 8000, proto: 'tcp' as const }], onstart: 'run', args: null, diskGb: 8 };
      const wg = await store.createWorkergroup({
        accountId,
        endpointId: ep.id,
        template,
        placement: { conditions: [{ field: 'numGpus', op: 'eq', value: 1 }] },
        launchArgs: null,
        gpuRamGb: null,
        testWorkers: 3,
        now: 1,
      });
      assert.deepEqual((await store.getWorkergroup(wg.id))?.template, template);
      // A rolling update of its workers: set (a time past 2^31 ms, as real clocks give), then cleared.
      assert.equal(wg.workersOutdatedBefore, null);
      await store.updateWorkergroup(wg.id, { workersOutdatedBefore: 1_796_000_000_000 });
      assert.equal((await store.getWorkergroup(wg.id))?.workersOutdatedBefore, 1_796_000_000_000);
      await store.updateWorkergroup(wg.id, { workersOutdatedBefore: null });
      assert.equal((await store.getWorkergroup(wg.id))?.workersOutdatedBefore, null);
      const dep = await store.createDeployment({ accountId, name: ep.name, tag: 'default', endpointId: ep.id, workergroupId: wg.id, now: 1 });
      assert.equal((await store.findDeploymentByEndpoint(ep.id))?.id, dep.id);
      const inst = await store.createInstance({
        accountId,
        machineId,
        numGpus: 1,
        image: 'img',
        env: {},
        requestedPorts: [{ containerPort: 8000, proto: 'tcp' }],
        onstart: null,
        entrypoint: null,
        args: null,
        runtype: 'ssh',
        label: null,
        diskGb: 8,
        offerType: 'on-demand',
        bidPrice: null,
        dphBase: 0.3,
        storageCost: 0.1,
        target: 'running',
        instanceKeyHash: (id) => `h-${id}-${n}`,
        worker: { workergroupId: wg.id, endpointId: ep.id },
        now: 1,
      });
      assert.deepEqual(
        (await store.listWorkers(ep.id)).map((i) => [i.id, i.workergroupId, i.endpointId]),
        [[inst.id, wg.id, ep.id]],
      );
      const report = {
        instanceId: inst.id,
        curLoad: 1,
        maxPerf: 5,
        curPerf: 1,
        numRequestsWorking: 2,
        loaded: true,
        errorMsg: null,
        reportedAt: 5,
        keyed: false,
      };
      await store.recordWorkerReport(report);
      await store.recordWorkerReport({ ...report, numRequestsWorking: 0, reportedAt: 6 });
      assert.deepEqual((await store.workerReports([inst.id])).get(inst.id), { ...report, numRequestsWorking: 0, reportedAt: 6 });
      await store.pruneWorkerReports();
      assert.equal((await store.workerReports([inst.id])).size, 1, "a live worker's report is kept");
      // Destroyed: its last report goes with the next prune (one row per worker ever made, else).
      await store.writeIntent(inst.id, inst.generation, { target: 'deleted', pendingOp: null, acquireGpus: false, now: 7 });
      const [c] = (await store.claimInstances({ owner: 'r', now: 8, leaseMs: 1000, observeBefore: 8, limit: 500, machineIds: [inst.machineId] })).filter(
        (i) => i.id === inst.id,
      );
      assert.ok(c);
      await store.applyObservation(inst.id, c.leaseToken as string, {
        status: 'destroyed',
        statusMsg: null,
        exitCode: null,
        observedGeneration: c.generation,
        pendingOpDone: false,
        now: 8,
      });
      assert.ok((await store.pruneWorkerReports()) >= 1);
      assert.equal((await store.workerReports([inst.id])).size, 0);
      await store.deleteWorkergroup(wg.id, 9);
      assert.equal(await store.getWorkergroup(wg.id), undefined);
    });

    it('reconfigure writes params and template together, compare-and-set on both and the intent: of two racing writers one wins whole', async () => {
      const ep = await endpoint();
      const template = { image: 'img', env: { S: 'a' }, ports: [], onstart: 'run', args: null, diskGb: 8 };
      const wg = await store.createWorkergroup({
        accountId,
        endpointId: ep.id,
        template,
        placement: { conditions: [] },
        launchArgs: null,
        gpuRamGb: null,
        testWorkers: 0,
        now: 1,
      });
      const write = (s: Store, env: string, maxWorkers: number) =>
        s.reconfigureEndpoint({
          endpointId: ep.id,
          expected: { params: ep.params, generation: ep.generation },
          params: { ...ep.params, minWorkers: maxWorkers, maxWorkers },
          workergroup: { id: wg.id, expected: template, template: { ...template, env: { S: env } } },
          now: 40,
        });
      // One server per SQLite file (its data-dir lock): there the two writers share the one handle, whose transactions queue.
      const racer = ts.name === 'sqlite' ? store : other;
      const [a, b] = await Promise.all([write(store, 'b', 2), write(racer, 'c', 3)]);
      assert.equal(Number(a) + Number(b), 1, 'exactly one of two writers that read the same rows wins');
      const [env, max] = a ? ['b', 2] : ['c', 3];
      assert.deepEqual((await store.getWorkergroup(wg.id))?.template.env, { S: env });
      assert.equal((await store.getEndpoint(ep.id))?.params.maxWorkers, max, "the winner's bounds beside the winner's env");
      assert.equal((await store.getEndpoint(ep.id))?.params.minWorkers, max);
      // Stale on either row: nothing is written.
      assert.equal(await write(store, 'd', 4), false);
      const now = (await store.getEndpoint(ep.id)) as NonNullable<Awaited<ReturnType<Store['getEndpoint']>>>;
      const staleTemplate = await store.reconfigureEndpoint({
        endpointId: ep.id,
        expected: { params: now.params, generation: now.generation },
        params: { ...now.params, maxWorkers: 9 },
        workergroup: { id: wg.id, expected: template, template: { ...template, env: { S: 'e' } } },
        now: 41,
      });
      assert.equal(staleTemplate, false);
      assert.equal((await store.getEndpoint(ep.id))?.params.maxWorkers, max, 'the params are not written when the template moved');
      assert.deepEqual((await store.getWorkergroup(wg.id))?.template.env, { S: env });
      // An intent written since the read (a stop): the decision was made on a state that is gone.
      assert.ok(await store.writeEndpointIntent(now.id, now.generation, { target: 'stopped', status: 'stopping', statusMsg: null, stop: null, now: 42 }));
      const stopped = await store.reconfigureEndpoint({
        endpointId: ep.id,
        expected: { params: now.params, generation: now.generation },
        params: { ...now.params, maxWorkers: 9 },
        workergroup: null,
        now: 43,
      });
      assert.equal(stopped, false);
      assert.equal((await store.getEndpoint(ep.id))?.params.maxWorkers, max, 'nothing is written once the intent moved');
    });

    it('a shared setting: the first writer wins for every replica', async () => {
      assert.equal(await store.getSetting('k'), null);
      const [a, b] = await Promise.all([store.getOrPutSetting('k', 'from-a'), other.getOrPutSetting('k', 'from-b')]);
      assert.equal(await other.getSetting('k'), a);
      assert.equal(a, b);
      assert.equal(await store.getOrPutSetting('k', 'later'), a);
      // Migration 0039 names the last instance made before endpoints had signing keys: none, on a new database.
      assert.equal(await store.getSetting(ROUTE_KEYS_AFTER_INSTANCE), '0');
    });

    it("gateways' held-request rows last written before a time are pruned; later ones, and what they count, stay", async () => {
      const ep = await endpoint();
      await store.putGatewayPending('gone-replica', ep.id, 3, 1_000);
      await store.putGatewayPending('gone-replica', 0, 0, 1_000); // its presence row
      await store.putGatewayPending('live-replica', ep.id, 2, 9_000);
      await store.putGatewayPending('live-replica', 0, 0, 9_000);
      assert.equal(await store.pruneGatewayPending(5_000), 2);
      assert.equal(await store.gatewayPendingElsewhere(ep.id, 'me', 0), 2, "the gone replica's count is deleted, the live one's kept");
      assert.equal(await store.gatewaysPublishedSince(ep.id, 0, 9_000), true, 'no presence of the gone replica is left to wait for');
      assert.equal(await store.pruneGatewayPending(5_000), 0);
    });

    it('activity only moves forward', async () => {
      const ep = await endpoint();
      await store.touchEndpoint(ep.id, 500);
      await store.touchEndpoint(ep.id, 400);
      assert.equal((await store.getEndpoint(ep.id))?.lastActivityAt, 500);
    });
  });
}
