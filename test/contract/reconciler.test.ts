import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import { InProcessChannel } from '../../src/agent/channel.js';
import { type ControlPlane } from '../../src/control/control-plane.js';
import { ensureHostToken, newHostToken } from '../../src/control/hosts/host-tokens.js';
import type { Principal } from '../../src/control/principal.js';
import type { Observation } from '../../src/domain/instance/reconcile.js';
import { createLogger } from '../../src/log/logger.js';
import type { LogLine, Runtime, WorkloadSpec } from '../../src/runtime/runtime.js';
import { type KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { createRequest } from '../helpers/requests.js';
import { TEST_STORES } from '../helpers/stores.js';
import { passLater, replicaPlane } from '../helpers/replica.js';
import { cpuHost } from '../helpers/machines.js';

/**
 * The reconciler against a scripted runtime (the real process runtime is covered by the API and system
 * tests), reached the way every host is: an Agent over the in-process channel, a session in the hub. It
 * shows paths a real runtime rarely does, such as a stop that never completes, an agent that goes away,
 * and two replicas sharing one database.
 */
class ScriptedRuntime implements Runtime {
  readonly name = 'scripted';
  readonly imageNotice = null;
  readonly running = new Set<number>();
  readonly starts = new Map<number, number>();
  stuck = false;
  /** A stop that never returns (a wedged host): only the step bound ends it. */
  hang = false;
  readonly #held: (() => void)[] = [];

  async start(spec: WorkloadSpec): Promise<void> {
    await new Promise((r) => setTimeout(r, 5)); // slow enough for two replicas to overlap
    this.starts.set(spec.instanceId, (this.starts.get(spec.instanceId) ?? 0) + 1);
    this.running.add(spec.instanceId);
  }
  async setSshKeys(): Promise<void> {}
  /** Set: every inspect fails with this (a host whose container engine is down); counted in `failedInspects`. */
  broken: string | null = null;
  failedInspects = 0;
  inspects = 0;
  /** Inspects and listings never answer (a container engine that hangs without closing its socket). */
  hangLooks = false;
  async inspect(id: number): Promise<Observation> {
    this.inspects++;
    if (this.hangLooks) return new Promise<Observation>((resolve) => this.#held.push(() => resolve(this.#look(id))));
    if (this.broken !== null) {
      this.failedInspects++;
      throw new Error(this.broken);
    }
    return this.#look(id);
  }
  stops = 0;
  stop(id: number): Promise<Observation> {
    this.stops++;
    // An engine that is down or hangs fails or holds the stop as it does a look.
    if (this.broken !== null) return Promise.reject(new Error(this.broken));
    if (this.hang || this.hangLooks) return new Promise<Observation>((resolve) => this.#held.push(() => resolve(this.#look(id))));
    if (!this.stuck) this.running.delete(id);
    return Promise.resolve(this.#look(id));
  }
  destroy(id: number): Promise<Observation> {
    return this.stop(id);
  }
  /** Hung stops answer at last (results the session no longer waits for), so their agents can stop. */
  release(): void {
    for (const answer of this.#held.splice(0)) answer();
  }
  async wipeDisk(): Promise<void> {}
  async logs(): Promise<string> {
    return '';
  }
  async logLines(): Promise<LogLine[]> {
    return [];
  }
  async list(): Promise<number[]> {
    if (this.hangLooks) await new Promise<void>((resolve) => this.#held.push(resolve));
    return [...this.running];
  }
  async usage(): Promise<null> {
    return null;
  }
  onExit(): void {}
  async close(): Promise<void> {}
  #look(id: number): Observation {
    return this.running.has(id) ? { state: 'running' } : { state: 'absent' };
  }
}

const MACHINE = cpuHost(32000);

for (const ts of TEST_STORES) {
  describe(`instance reconciler (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let location: string;
    const stores: KyselyStore[] = [];
    // One machine, one runtime; each replica has its own agent and session to it, as when several
    // servers share a database (an agent polls one replica; here every replica gets one).
    const runtime = new ScriptedRuntime();
    const token = newHostToken();
    const agents: Agent[] = [];
    const allPlanes: ControlPlane[] = [];
    let planes: ControlPlane[];
    let admin: Principal;

    const plane = async (over: Record<string, unknown> = {}): Promise<ControlPlane> => {
      // A runtime step's bound generous (a start late on a busy machine is not a failure here); the test
      // of that bound makes its own replica with 200 ms.
      const cp = await replicaPlane(ts, stores, location, dir, { leaseMs: 5000, observeIntervalMs: 60_000, stepTimeoutMs: 30_000, ...over });
      allPlanes.push(cp);
      return cp;
    };

    /** The scripted host joins a replica the way `gantry up` joins its embedded host. */
    const connect = async (cp: ControlPlane): Promise<Agent> => {
      await ensureHostToken(cp.ctx, admin.accountId, token);
      const agent = new Agent({
        channel: new InProcessChannel(cp.agents, token),
        runtime,
        hostKey: 'scripted',
        describe: () => Promise.resolve(MACHINE),
        gpuUtils: () => Promise.resolve(null),
        log: createLogger('silent'),
      });
      await agent.start();
      agents.push(agent);
      return agent;
    };

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-rec-'));
      location = await ts.fresh(dir);
      planes = [await plane(), await plane()];
      const [a, b] = planes as [ControlPlane, ControlPlane];
      await a.bootstrapAdmin('admin-key');
      admin = await a.authenticate('admin-key');
      await connect(a);
      await connect(b);
    });
    after(async () => {
      runtime.release();
      for (const agent of agents) await agent.stop();
      for (const cp of allPlanes) cp.agents.close(); // parked polls return
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    const create = (cp: ControlPlane) => cp.createInstance(admin, createRequest({ offerId: 1000, diskGb: 1 }));

    it('two replicas on one database start each instance exactly once', async () => {
      const [a, b] = planes as [ControlPlane, ControlPlane];
      const ids: number[] = [];
      for (let i = 0; i < 20; i++) ids.push((await create(a)).instance.id);
      // Passes until every instance runs (the fact), not a fixed number of rounds: on a busy machine a
      // round can end before a start it leased completes, and the next round finishes it.
      const allRunning = async (): Promise<boolean> => (await Promise.all(ids.map((id) => a.ctx.store.getInstance(id)))).every((i) => i?.status === 'running');
      const deadline = Date.now() + 60_000;
      for (let round = 0; round < 5 || (!(await allRunning()) && Date.now() < deadline); round++) {
        await Promise.all([a.reconciler.passOnce(), b.reconciler.passOnce()]);
      }
      for (const id of ids) {
        assert.equal(runtime.starts.get(id), 1, `instance ${id} started once`);
        assert.equal((await a.ctx.store.getInstance(id))?.status, 'running');
      }
    });

    it('a stop that cannot complete ends in failed with the reason, and can be retried', async () => {
      const [a] = planes as [ControlPlane];
      const { instance } = await create(a);
      await a.reconciler.passOnce();
      runtime.stuck = true;
      await a.changeInstance(admin, instance.id, 'stop');
      await a.reconciler.passOnce();
      const failed = await a.ctx.store.getInstance(instance.id);
      assert.equal(failed?.status, 'failed');
      assert.match(failed?.statusMsg ?? '', /stop did not complete/);
      await assert.rejects(a.changeInstance(admin, instance.id, 'start'), /did not complete/);
      // It stands as failed: not tried again by itself, which went back to stopping every pass, for ever.
      const stops = runtime.stops;
      for (let i = 0; i < 3; i++) await a.reconciler.passOnce();
      assert.equal(runtime.stops, stops, 'no stop that was not asked for');
      assert.equal((await a.ctx.store.getInstance(instance.id))?.status, 'failed');
      runtime.stuck = false;
      assert.equal((await a.changeInstance(admin, instance.id, 'stop')).changed, true, 'stop is retried');
      await a.reconciler.passOnce();
      const stopped = await a.ctx.store.getInstance(instance.id);
      assert.equal(stopped?.status, 'stopped');
      assert.equal(stopped?.statusMsg, null, 'the failure it no longer is, is not shown');

      // A destroy likewise, and asking for it again tries again.
      const { instance: other } = await create(a);
      await a.reconciler.passOnce();
      runtime.stuck = true;
      await a.changeInstance(admin, other.id, 'destroy');
      for (let i = 0; i < 3; i++) await a.reconciler.passOnce();
      assert.match((await a.ctx.store.getInstance(other.id))?.statusMsg ?? '', /destroy did not complete/);
      runtime.stuck = false;
      assert.equal((await a.changeInstance(admin, other.id, 'destroy')).changed, true, 'destroy is retried');
      await a.reconciler.passOnce();
      assert.equal((await a.ctx.store.getInstance(other.id))?.status, 'destroyed');
    });

    it("a running instance's stop or destroy goes out without a look first; one that ended meanwhile is recorded as a look would", async () => {
      const [a] = planes as [ControlPlane];
      const { instance } = await create(a);
      const { instance: ended } = await create(a);
      const { instance: doomed } = await create(a);
      await a.reconciler.passOnce();
      runtime.running.delete(ended.id); // exited, and no look has seen it yet
      const looks = runtime.inspects;
      for (const id of [instance.id, ended.id]) await a.changeInstance(admin, id, 'stop');
      await a.changeInstance(admin, doomed.id, 'destroy');
      await a.reconciler.passOnce();
      assert.equal(runtime.inspects, looks, 'the stops were their own looks');
      for (const id of [instance.id, ended.id]) assert.equal((await a.ctx.store.getInstance(id))?.status, 'stopped');
      assert.equal((await a.ctx.store.getInstance(doomed.id))?.status, 'destroyed');
      assert.equal(runtime.running.has(instance.id), false);
    });

    it('bounds a stop that never returns: failed with the reason after stepTimeoutMs', async () => {
      const a = await plane({ stepTimeoutMs: 200 });
      await connect(a);
      const { instance } = await create(a);
      await a.reconciler.passOnce();
      runtime.hang = true; // the agent takes the stop and keeps polling; the runtime never answers
      await a.changeInstance(admin, instance.id, 'stop');
      await a.reconciler.passOnce();
      runtime.hang = false;
      const failed = await a.ctx.store.getInstance(instance.id);
      assert.equal(failed?.status, 'failed');
      assert.match(failed?.statusMsg ?? '', /stop failed: stop did not complete within 200 ms/);
      runtime.release(); // the late answer is ignored: the session no longer waits for it
      assert.equal((await a.changeInstance(admin, instance.id, 'stop')).changed, true, 'stop is retried');
      await a.reconciler.passOnce();
      assert.equal((await a.ctx.store.getInstance(instance.id))?.status, 'stopped');
    });

    it('a host whose runtime errs is tried again later, not at once; the reason is shown, the stop failed past its bound, and done once the runtime answers', async (t) => {
      const a = await plane({ stepTimeoutMs: 300, reconcileRetryMaxMs: 1_000 });
      await connect(a);
      const { instance } = await create(a);
      await a.reconciler.passOnce();
      assert.equal((await a.ctx.store.getInstance(instance.id))?.status, 'running');
      runtime.broken = 'connect ENOENT /run/podman/podman.sock';
      t.after(() => (runtime.broken = null));
      await a.changeInstance(admin, instance.id, 'stop');
      const failedAt = Date.now();
      await a.reconciler.passOnce();
      const once = runtime.failedInspects;
      assert.equal(once, 1);
      await a.reconciler.passOnce();
      // The first wait is 250 ms: on a machine too busy to run the next pass within it, the row is due again.
      if (Date.now() - failedAt < 250) assert.equal(runtime.failedInspects, once, 'right after a failure the row is not tried again');
      const deadline = Date.now() + 20_000;
      const get = async () => a.ctx.store.getInstance(instance.id);
      while ((await get())?.status !== 'failed' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 30));
        await a.reconciler.passOnce();
      }
      const failed = await get();
      assert.equal(failed?.status, 'failed');
      assert.equal(failed?.statusMsg, 'stop failed: connect ENOENT /run/podman/podman.sock');
      runtime.broken = null;
      while ((await get())?.status !== 'stopped' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 30));
        await a.reconciler.passOnce();
      }
      assert.equal((await get())?.status, 'stopped', 'the stop completes once the runtime answers, without being asked again');
      assert.equal((await get())?.statusMsg, null, 'the failure is no longer shown');
    });

    it('an engine that hangs: heartbeats go on (the host stays online) and the stop fails past its bound with the reason', async (t) => {
      const a = await plane({ stepTimeoutMs: 500, agentCallTimeoutMs: 300, reconcileRetryMaxMs: 200, heartbeatIntervalMs: 100, machineOfflineMs: 1_500 });
      await connect(a);
      const { instance } = await create(a);
      await a.reconciler.passOnce();
      assert.equal((await a.ctx.store.getInstance(instance.id))?.status, 'running');
      runtime.hangLooks = true;
      t.after(() => {
        runtime.hangLooks = false;
        runtime.release();
      });
      await a.changeInstance(admin, instance.id, 'stop');
      const get = async () => a.ctx.store.getInstance(instance.id);
      // Longer than machineOfflineMs: a heartbeat that waited on the runtime's listing would have let the host go offline.
      const until = Date.now() + 2_500;
      while (Date.now() < until) {
        await new Promise((r) => setTimeout(r, 50));
        await a.reconciler.passOnce();
      }
      const failed = await get();
      assert.equal(failed?.status, 'failed');
      // The stop went without a look first and held its whole bound: failed with that reason, and still pending.
      assert.match(failed?.statusMsg ?? '', /^stop failed: stop did not complete within 500 ms/);
      assert.equal((await a.ctx.store.getMachine(failed.machineId, Date.now()))?.online, true, 'the host answers: it is not offline');
      runtime.hangLooks = false;
      runtime.release();
      const deadline = Date.now() + 20_000;
      while ((await get())?.status !== 'stopped' && Date.now() < deadline) {
        await new Promise((r) => setTimeout(r, 30));
        await a.reconciler.passOnce();
      }
      assert.equal((await get())?.status, 'stopped', 'done once the engine answers again');
    });

    it('an earlier failure, since passed, does not count against a later stop', async (t) => {
      const a = await plane({ stepTimeoutMs: 300, reconcileRetryMaxMs: 50 });
      await connect(a);
      const { instance } = await create(a);
      await a.reconciler.passOnce();
      t.after(() => (runtime.broken = null));
      runtime.broken = 'one blip';
      await a.reconciler.passOnce(); // a plain look fails once
      runtime.broken = null;
      await new Promise((r) => setTimeout(r, 400)); // longer than stepTimeoutMs; the lease of the failure ends
      await a.reconciler.passOnce(); // and a look works
      await a.changeInstance(admin, instance.id, 'stop');
      runtime.broken = 'another blip';
      await a.reconciler.passOnce(); // one failure of the stop: not past its bound
      assert.notEqual((await a.ctx.store.getInstance(instance.id))?.status, 'failed');
      runtime.broken = null;
      for (let i = 0; i < 100 && (await a.ctx.store.getInstance(instance.id))?.status !== 'stopped'; i++) {
        await new Promise((r) => setTimeout(r, 20));
        await a.reconciler.passOnce();
      }
      assert.equal((await a.ctx.store.getInstance(instance.id))?.status, 'stopped');
    });

    it('a host that goes away during a stop records nothing and is retried, never failed', async () => {
      const gone = await plane({ agentCallTimeoutMs: 200, stepTimeoutMs: 200 });
      const agent = await connect(gone);
      const { instance } = await create(gone);
      await gone.reconciler.passOnce();
      assert.equal((await gone.ctx.store.getInstance(instance.id))?.status, 'running');
      await gone.changeInstance(admin, instance.id, 'stop');
      // The agent dies as the stop is asked (a running instance's stop is sent without a look first); its
      // poll, parked on the server, takes the stop, which nobody carries out (a dead agent's HTTP poll does the same).
      const dying = agent.stop();
      await gone.reconciler.passOnce();
      await dying;
      const mid = await gone.ctx.store.getInstance(instance.id);
      assert.equal(mid?.status, 'stopping', 'nothing recorded after the interim status');
      assert.ok(mid.observedGeneration < mid.generation, 'the stop is still pending');
      assert.equal(runtime.running.has(instance.id), true);
      // Still gone: the next command is never taken; again nothing is recorded.
      await gone.reconciler.passOnce();
      assert.equal((await gone.ctx.store.getInstance(instance.id))?.status, 'stopping');
      await connect(gone); // back: a new hello replaces the session
      await gone.reconciler.passOnce();
      assert.equal((await gone.ctx.store.getInstance(instance.id))?.status, 'stopped');
      assert.equal(runtime.running.has(instance.id), false);
    });

    it('reports workloads that vanished, and stops ones running against a stopped intent', async () => {
      const [a] = planes as [ControlPlane];
      const watcher = await plane({ observeIntervalMs: 0 }); // re-observes every row on each pass
      await connect(watcher);
      const { instance } = await create(a);
      await passLater(watcher);
      runtime.running.delete(instance.id); // killed from outside Gantry
      await passLater(watcher);
      const gone = await a.ctx.store.getInstance(instance.id);
      assert.equal(gone?.status, 'exited');
      assert.match(gone?.statusMsg ?? '', /disappeared/);
      await a.changeInstance(admin, instance.id, 'stop');
      await passLater(watcher);
      assert.equal((await a.ctx.store.getInstance(instance.id))?.status, 'stopped');
      runtime.running.add(instance.id); // something started it behind our back
      await passLater(watcher);
      assert.equal(runtime.running.has(instance.id), false);
      assert.equal((await a.ctx.store.getInstance(instance.id))?.status, 'stopped');
    });

    it('two replicas running the serverless loop recruit each worker once (endpoint leases)', async () => {
      const [a, b] = planes as [ControlPlane, ControlPlane];
      const ep = await a.serverless.createEndpoint(admin, {
        name: 'leased',
        params: { minLoad: 0, minWorkers: 3, coldWorkers: 0, maxWorkers: 5 },
        aliasOf: null,
      });
      await a.serverless.createWorkergroup(admin, ep.id, {
        template: { image: 'img', env: {}, onstart: null, args: null, diskGb: 1 },
        placement: { conditions: [{ field: 'verified', op: 'eq', value: true }] },
        launchArgs: null,
        gpuRamGb: null,
        testWorkers: 3,
      });
      for (let i = 0; i < 6; i++) {
        if (ts.name === 'postgres') await Promise.all([a.serverlessLoop.runOnce(), b.serverlessLoop.runOnce()]);
        else for (const p of [a, b]) await p.serverlessLoop.runOnce();
      }
      const workers = await a.ctx.store.listWorkers(ep.id);
      assert.equal(workers.length, 3, 'min_workers 3, recruited exactly once across replicas');
      assert.ok(workers.every((w) => w.endpointId === ep.id && w.label === 'leased worker'));
    });
  });
}
