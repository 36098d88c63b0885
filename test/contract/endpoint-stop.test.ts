import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, afterEach, before, describe, it } from 'node:test';
import { loadConfig } from '../../src/config/load.js';
import { ControlPlane } from '../../src/control/control-plane.js';
import { HostRegistry } from '../../src/control/hosts/hosts.js';
import type { Principal } from '../../src/control/principal.js';
import { stopPass } from '../../src/control/loops/endpoint-stop-pass.js';
import { routingView } from '../../src/control/serverless/routing.js';
import { ZERO_COUNTERS, type FailedHeld, type InferenceStats, type PendingWork, type TrafficGate } from '../../src/control/serverless/traffic-gate.js';
import { GantryError } from '../../src/domain/errors.js';
import { createLogger } from '../../src/log/logger.js';
import { Metrics } from '../../src/log/metrics.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { TEST_STORES } from '../helpers/stores.js';
import { machineReg, rental } from '../helpers/machines.js';
import { testVault } from '../helpers/vault.js';

/** A gateway whose held requests the test sets, recording what the loop fails. */
class ScriptedTraffic implements TrafficGate {
  failAtWorker = (): number => 0;
  held: PendingWork = { queued: 0, inFlight: 0, oldestQueuedMs: 0 };
  failedCalls = 0;
  close = (): void => undefined;
  open = (): void => undefined;
  pending = (): PendingWork => this.held;
  waiting = (): number[] => [];
  pendingElsewhere = (): Promise<number> => Promise.resolve(0);
  /** Gateways never said they heard the stop here: closing lasts its bound (STOP_SETTLE_MS). */
  stopSettled = (): Promise<boolean> => Promise.resolve(false);
  /** Whether the last failPending rejected what was queued. */
  rejectedQueued = false;
  failPending = (_id: number, _why: string, rejectQueued = false): FailedHeld => {
    this.failedCalls++;
    this.rejectedQueued = rejectQueued;
    const { queued, inFlight } = this.held;
    this.held = { queued: 0, inFlight: 0, oldestQueuedMs: 0 };
    return { failed: queued + inFlight, rejected: rejectQueued ? queued : 0 };
  };
  loadSamples = (): [] => [];
  workerLoad = (): Map<number, { inFlight: number; cost: number }> => new Map();
  unfinishedHandOuts = (): boolean => false;
  finished = (): void => undefined;
  stalledWorkers = (): Map<number, number> => new Map();
  fence = (): void => undefined;
  invalidate = (): void => undefined;
  stats = (): InferenceStats => ({ deployment: ZERO_COUNTERS, workers: new Map() });
  flushStopCounts = (): Promise<void> => Promise.resolve();
}

const isCode = (code: string) => (e: unknown) => e instanceof GantryError && e.code === code;

/** The stop pass on typed phases, bulk endpoint changes and waits for a status: control plane and store, no workers. */
for (const ts of TEST_STORES) {
  describe(`endpoint stop, bulk change and wait (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    const stores: KyselyStore[] = [];
    const traffic = new ScriptedTraffic();
    /** Time the planes see: real time, or a time the test sets and moves. */
    let frozen: number | null = null;
    let a: ControlPlane;
    let b: ControlPlane;
    let admin: Principal;
    let n = 0;

    const plane = async (location: string, over: Record<string, unknown>): Promise<ControlPlane> => {
      // SQLite is one machine's store: both planes share one connection (see reconciler.test.ts).
      const store = ts.name === 'sqlite' && stores[0] !== undefined ? stores[0] : new KyselyStore(ts.dialect(location));
      if (!stores.includes(store)) stores.push(store);
      await store.migrate();
      return planeOn(store, over);
    };
    /**
     * Wakes the planes' intents wrote (EndpointSignal.intent) that have not landed yet. The test runs each pass
     * itself (no loop runs): one run while a wake writes the row would skip it on PostgreSQL (claims skip
     * locked rows), where a running loop is asked again once the wake is written.
     */
    const wakes = new Set<Promise<void>>();
    const tracked = (store: ConstructorParameters<typeof ControlPlane>[0]['store']): typeof store => {
      const real = store as any;
      // Over an empty object: the store's methods are bound onto it as fixed properties, which a proxy of it must return unchanged.
      return new Proxy({} as typeof store, {
        get: (_t, k) => {
          if (k !== 'wakeEndpoint') return typeof real[k] === 'function' ? real[k].bind(real) : real[k];
          return (id: number) => {
            const w = store.wakeEndpoint(id);
            wakes.add(w);
            void w.catch(() => undefined).finally(() => wakes.delete(w));
            return w;
          };
        },
      });
    };
    /** A pass of plane `p`, once the wakes written so far have landed. */
    const pass = async (p: ControlPlane): Promise<void> => {
      await Promise.allSettled([...wakes]);
      await p.serverlessLoop.runOnce();
    };
    const planeOn = (store: ConstructorParameters<typeof ControlPlane>[0]['store'], over: Record<string, unknown>): ControlPlane =>
      new ControlPlane({
        store: tracked(store),
        clock: { now: () => frozen ?? Date.now() },
        hosts: new HostRegistry(),
        traffic,
        vault: testVault(),
        log: createLogger('silent'),
        metrics: new Metrics({ defaults: false }),
        secret: 's',
        settings: loadConfig({ env: {}, flags: { dataDir: dir, stepTimeoutMs: 2_000, ...over } }),
        apiUrl: () => 'http://x',
      });
    // Created, then scheduled by a pass (pending): an endpoint no pass has seen is unknown and cannot be stopped.
    const endpoint = async () => {
      const id = (await a.serverless.createEndpoint(admin, { name: `ep${++n}`, params: {}, aliasOf: null })).id;
      await pass(a);
      return id;
    };
    const show = (id: number) => a.serverless.showEndpoint(admin, id);

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-stop-'));
      const location = await ts.fresh(dir);
      // Plane a only hears of passes by its own signal (its poll is slow); plane b is "another replica".
      a = await plane(location, { endpointWaitPollMs: 60_000 });
      b = await plane(location, { endpointWaitPollMs: 60_000 });
      await a.bootstrapAdmin('admin-key');
      admin = await a.authenticate('admin-key');
    });
    // A test that froze the clock and then failed must not leave it frozen for the next one.
    afterEach(() => {
      frozen = null;
    });
    after(async () => {
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('a drain goes closing → draining → stopped, failing and counting what is left at its deadline', async () => {
      const id = await endpoint();
      frozen = Date.now();
      traffic.held = { queued: 1, inFlight: 2, oldestQueuedMs: 0 };
      const { endpoint: ep } = await a.serverless.changeEndpoint(admin, id, 'stop', { stop: { finishPendingWork: true, force: false, timeoutMs: 5_000 } });
      assert.deepEqual([ep.status, ep.stopPhase, ep.stopDeadline, ep.stopFailed], ['stopping', 'closing', (ep.stopRequestedAt ?? 0) + 5_000, 0]);
      await pass(a);
      let now = await show(id);
      assert.deepEqual([now.stopPhase, now.statusMsg], ['closing', 'draining: 1 queued, 2 in flight'], 'closing lasts while gateways settle');
      frozen += 1_500;
      await pass(a);
      now = await show(id);
      assert.deepEqual([now.status, now.stopPhase, now.stopWorkersDeadline], ['stopping', 'draining', null]);
      // A gateway (any replica) reports what it answered and refused meanwhile.
      await a.ctx.store.countStopRequests(id, 4, 1);
      frozen += 5_000;
      await pass(a);
      now = await show(id);
      assert.equal(traffic.failedCalls, 1, 'what was held at the deadline was failed once');
      assert.deepEqual(
        [now.status, now.stopPhase, now.stopDrainTimedOut, now.stopAnswered, now.stopFailed, now.statusMsg],
        ['stopped', null, true, 4, 4, 'drain timed out: 4 request(s) failed'],
      );
      const s = a.ctx.settings;
      assert.equal(
        now.stopWorkersDeadline,
        frozen + s.stepTimeoutMs + s.agentCallTimeoutMs + s.observeIntervalMs,
        'the workers phase was entered, with its deadline',
      );
    });

    it('an Elasticsearch drain that runs out of time rejects what is still queued, as its plain stop does, at every replica', async () => {
      const id = await endpoint();
      frozen = Date.now();
      traffic.held = { queued: 2, inFlight: 1, oldestQueuedMs: 0 };
      traffic.failedCalls = 0;
      const stop = { finishPendingWork: true, force: false, timeoutMs: 5_000, rejectQueued: true };
      await a.serverless.changeEndpoint(admin, id, 'stop', { stop });
      let view = await routingView(b.ctx, id);
      assert.deepEqual([view.accepting, view.draining, view.rejectQueued], [false, true, true], 'queued requests still go to workers while it drains');
      await pass(a);
      frozen += 6_000;
      await pass(a);
      const now = await show(id);
      assert.deepEqual([traffic.failedCalls, traffic.rejectedQueued], [1, true]);
      assert.deepEqual(
        [now.status, now.stopDrainTimedOut, now.stopFailed, now.stopRejected, now.statusMsg],
        ['stopped', true, 3, 2, 'drain timed out: 3 request(s) failed'],
      );
      view = await routingView(b.ctx, id);
      assert.deepEqual([view.draining, view.rejectQueued], [false, true], "another replica's gateway rejects what it still queues");
      // Vast's drain fails them as stopped, and a start forgets how the stop failed requests.
      await a.serverless.changeEndpoint(admin, id, 'start');
      assert.equal((await routingView(b.ctx, id)).rejectQueued, false);
      await a.serverless.changeEndpoint(admin, id, 'stop', { stop: { ...stop, rejectQueued: false } });
      assert.equal((await routingView(b.ctx, id)).rejectQueued, false);
      frozen += 6_000;
      traffic.held = { queued: 2, inFlight: 0, oldestQueuedMs: 0 };
      await pass(a);
      frozen += 6_000;
      await pass(a);
      assert.deepEqual([(await show(id)).stopRejected, traffic.rejectedQueued], [0, false]);
    });

    it('what a pass failed but could not record (its lease lost) is carried into the next pass', async () => {
      const id = await endpoint();
      frozen = Date.now();
      traffic.held = { queued: 0, inFlight: 0, oldestQueuedMs: 0 };
      await a.serverless.changeEndpoint(admin, id, 'stop', { stop: { finishPendingWork: true, force: false, timeoutMs: 5_000 } });
      // A stop that gave up failed two, one rejected, in a pass whose write was lost: nothing more fails now.
      const carried = { failed: 2, rejected: 1, drainTimedOut: false };
      let r = await stopPass(a.ctx, await show(id), [], carried);
      assert.deepEqual(r.failures, carried);
      assert.deepEqual([r.pass.stop?.failed, r.pass.stop?.rejected, r.pass.stop?.drainTimedOut], [2, 1, false]);
      // At the drain's deadline what is held fails too, added to what was carried.
      frozen += 6_000;
      traffic.held = { queued: 1, inFlight: 2, oldestQueuedMs: 0 };
      r = await stopPass(a.ctx, await show(id), [], carried);
      assert.deepEqual(r.failures, { failed: 5, rejected: 1, drainTimedOut: true });
      assert.deepEqual([r.pass.status, r.pass.statusMsg], ['stopped', 'drain timed out: 5 request(s) failed']);
      // Nothing carried and nothing failed: nothing to carry.
      traffic.held = { queued: 0, inFlight: 0, oldestQueuedMs: 0 };
      assert.equal((await stopPass(a.ctx, await show(id), [], undefined)).failures, undefined);
      // The stop ends here, not in a later test's pass (the scripted traffic counts every endpoint's failures).
      await pass(a);
      assert.equal((await show(id)).status, 'stopped');
    });

    it('what a lost pass of one stop failed is not counted in a later stop of the same endpoint', async () => {
      // The stops earlier tests left under way end first: the scripted traffic serves every endpoint.
      traffic.held = { queued: 0, inFlight: 0, oldestQueuedMs: 0 };
      frozen = Date.now() + 60_000;
      for (let i = 0; i < 3; i++) await pass(a);
      const id = await endpoint();
      traffic.held = { queued: 2, inFlight: 1, oldestQueuedMs: 0 };
      await a.serverless.changeEndpoint(admin, id, 'stop', { stop: { finishPendingWork: true, force: false, timeoutMs: 5_000, rejectQueued: true } });
      // Replica c: its passes' writes can be lost (the lease taken over on a slow machine).
      let lose = false;
      const real = a.ctx.store as any;
      // A store frozen as built: a view of it whose pass writes may be lost.
      const store = new Proxy({} as any, {
        get: (_t, k) => (k === 'applyEndpointPass' && lose ? () => Promise.resolve('lost') : typeof real[k] === 'function' ? real[k].bind(real) : real[k]),
      });
      const c = planeOn(store, { endpointWaitPollMs: 60_000 });
      await pass(c);
      frozen += 6_000;
      // The pass that fails what is held at the deadline loses its lease: its counts are carried.
      lose = true;
      const calls = traffic.failedCalls;
      await pass(c);
      lose = false;
      assert.equal(traffic.failedCalls, calls + 1);
      // Replica a ends that stop once the lease runs out; the endpoint is started and stopped again
      // (a plain stop: nothing held, nothing fails), and c runs the new stop's pass.
      traffic.held = { queued: 0, inFlight: 0, oldestQueuedMs: 0 };
      frozen += a.ctx.settings.leaseMs + 1;
      for (let i = 0; i < 5 && (await show(id)).status !== 'stopped'; i++) await pass(a);
      assert.equal((await show(id)).status, 'stopped');
      await a.serverless.changeEndpoint(admin, id, 'start');
      await pass(a);
      await a.serverless.changeEndpoint(admin, id, 'stop');
      await pass(c);
      const now = await show(id);
      assert.deepEqual(
        [now.stopFailed, now.stopRejected, now.stopDrainTimedOut, now.statusMsg?.startsWith('drain timed out') === true],
        [0, 0, false, false],
        JSON.stringify(now),
      );
    });

    it('a stop that gives up on a worker fails what is still in flight at once, not at the worker request timeout', async () => {
      const id = await endpoint();
      const store = a.ctx.store;
      const ep = await show(id);
      const machineId = (await store.registerMachine(machineReg(`stuck-${id}`, ep.accountId), Date.now())).id;
      const wg = await store.createWorkergroup({
        accountId: ep.accountId,
        endpointId: id,
        template: { image: 'img', env: {}, ports: [], onstart: null, args: null, diskGb: 8 },
        placement: { conditions: [] },
        launchArgs: null,
        gpuRamGb: null,
        testWorkers: 1,
        now: Date.now(),
      });
      const worker = await store.createInstance({
        ...rental({
          accountId: ep.accountId,
          machineId,
          numGpus: 1,
          diskGb: 8,
          dphBase: 0.3,
          storageCost: 0.1,
          target: 'running',
          instanceKeyHash: (i) => `stuck-${i}`,
          now: Date.now(),
        }),
        worker: { workergroupId: wg.id, endpointId: id },
      });
      // Its host runs it (observed running), then goes silent: asked to stop, it never reports stopped.
      const now = Date.now();
      const [row] = await store.claimInstances({ owner: 't', now, leaseMs: 1, observeBefore: now + 1, limit: 1, dueIds: [worker.id], onlyDue: true });
      assert.ok(row?.leaseToken);
      const observed = { status: 'running' as const, statusMsg: null, exitCode: null, observedGeneration: row.generation, pendingOpDone: true, now };
      assert.ok(await store.applyObservation(worker.id, row.leaseToken, observed));
      await store.releaseLease(worker.id, row.leaseToken, now);

      frozen = Date.now();
      traffic.held = { queued: 0, inFlight: 2, oldestQueuedMs: 0 };
      traffic.failedCalls = 0;
      await a.serverless.changeEndpoint(admin, id, 'stop');
      await pass(a);
      assert.deepEqual([(await show(id)).stopPhase, traffic.failedCalls], ['stopping_workers', 0], 'in flight while the worker may still stop and answer');
      frozen += a.ctx.settings.stepTimeoutMs + a.ctx.settings.agentCallTimeoutMs + a.ctx.settings.observeIntervalMs + 1_000;
      await pass(a);
      const now2 = await show(id);
      assert.equal(now2.status, 'failed');
      assert.match(now2.statusMsg ?? '', new RegExp(`workers ${worker.id} did not stop`));
      assert.equal(traffic.failedCalls, 1, 'the requests held at the worker were failed when the stop gave up');
      assert.equal(now2.stopFailed, 2);
    });

    it('awaitEndpointStatus wakes on this replica’s pass, times out with the last state, and polls for other replicas', async () => {
      const id = await endpoint();
      await a.serverless.changeEndpoint(admin, id, 'stop');
      const started = Date.now();
      const waiting = a.serverless.awaitEndpointStatus(admin, id, ['stopped', 'failed'], 30_000);
      await new Promise((r) => setTimeout(r, 50));
      await pass(a);
      const got = await waiting;
      assert.equal(got.timedOut, false);
      assert.equal(got.endpoint.status, 'stopped');
      assert.ok(Date.now() - started < 5_000, 'woken by the pass, not by the 60 s poll');

      const late = await a.serverless.awaitEndpointStatus(admin, id, ['running'], 100);
      assert.deepEqual([late.timedOut, late.endpoint.status], [true, 'stopped'], 'a timeout is an outcome carrying the state seen');
      assert.deepEqual((await a.serverless.awaitEndpointStatus(admin, id, ['stopped'], 0)).timedOut, false, 'already there: no wait');

      // Another replica runs the pass: its signal is not this plane's, so only the poll sees it.
      await a.serverless.changeEndpoint(admin, id, 'start');
      await a.serverless.changeEndpoint(admin, id, 'stop');
      const polling = new ControlPlane({ ...a.ctx, settings: { ...a.ctx.settings, endpointWaitPollMs: 50 } });
      const viaPoll = polling.serverless.awaitEndpointStatus(admin, id, ['stopped'], 10_000);
      await pass(b);
      assert.deepEqual([(await viaPoll).timedOut, (await viaPoll).endpoint.status], [false, 'stopped']);
    });

    it('refuses bad waits with INVALID_ARGUMENT and unknown endpoints with ENDPOINT_NOT_FOUND', async () => {
      const id = await endpoint();
      await assert.rejects(a.serverless.awaitEndpointStatus(admin, id, [], 10), isCode('INVALID_ARGUMENT'));
      await assert.rejects(a.serverless.awaitEndpointStatus(admin, id, ['bogus' as never], 10), isCode('INVALID_ARGUMENT'));
      await assert.rejects(a.serverless.awaitEndpointStatus(admin, id, ['running'], -1), isCode('INVALID_ARGUMENT'));
      await assert.rejects(a.serverless.awaitEndpointStatus(admin, id, ['running'], Number.NaN), isCode('INVALID_ARGUMENT'));
      await assert.rejects(a.serverless.awaitEndpointStatus(admin, 999_999, ['running'], 10), isCode('ENDPOINT_NOT_FOUND'));
    });

    it('changeEndpoints: one result per item, a refusal undoes nothing, the bounds of bulkChangeInstances', async () => {
      const [x, y] = [await endpoint(), await endpoint()];
      const stop = await a.serverless.changeEndpoints(admin, [x, y, 999_999], 'stop');
      assert.deepEqual(
        stop.map((r) => [r.id, r.ok, r.changed, r.error?.code ?? null]),
        [
          [x, true, true, null],
          [y, true, true, null],
          [999_999, false, false, 'ENDPOINT_NOT_FOUND'],
        ],
      );
      assert.deepEqual([(await show(x)).status, (await show(y)).status], ['stopping', 'stopping']);
      const start = await a.serverless.changeEndpoints(admin, [x, y], 'start');
      assert.deepEqual(
        start.map((r) => r.error?.code),
        ['ILLEGAL_TRANSITION', 'ILLEGAL_TRANSITION'],
        'refused while stopping, item by item',
      );
      const again = await a.serverless.changeEndpoints(admin, [y, x], 'stop');
      assert.deepEqual(
        again.map((r) => [r.id, r.ok, r.changed]),
        [
          [y, true, false],
          [x, true, false],
        ],
        'idempotent',
      );
      await assert.rejects(a.serverless.changeEndpoints(admin, [x, x], 'stop'), isCode('INVALID_ARGUMENT'));
      await assert.rejects(a.serverless.changeEndpoints(admin, [], 'stop'), isCode('INVALID_ARGUMENT'));
      await assert.rejects(
        a.serverless.changeEndpoints(
          admin,
          Array.from({ length: 101 }, (_, i) => i + 1),
          'stop',
        ),
        isCode('INVALID_ARGUMENT'),
      );
      await assert.rejects(
        a.serverless.changeEndpoints(admin, [x], 'stop', { stop: { finishPendingWork: true, force: false, timeoutMs: -5 } }),
        isCode('INVALID_ARGUMENT'),
      );
    });
  });
}
