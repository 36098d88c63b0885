import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import { InProcessChannel, type AgentChannel } from '../../src/agent/channel.js';
import { type ControlPlane } from '../../src/control/control-plane.js';
import { ensureHostToken, newHostToken } from '../../src/control/hosts/host-tokens.js';
import type { Principal } from '../../src/control/principal.js';
import { createLogger } from '../../src/log/logger.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { type KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { createRequest } from '../helpers/requests.js';
import { until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';
import { laterMs, passLater, replicaPlane } from '../helpers/replica.js';
import { cpuHost } from '../helpers/machines.js';
import { CountingChannel, ScriptedRuntime } from '../helpers/scripted-host.js';

/**
 * The host sweep (decision 017) against a scripted runtime, reached the way every host is: an Agent over
 * the in-process channel. One observing `list` per host replaces a look per instance: what it finds changed
 * goes through the per-instance path as before, what is at rest costs no inspect.
 */
/** An agent from before the sweep: its `list` ignores the observe flag and answers bare ids. */
class OldAgentChannel implements AgentChannel {
  readonly #inner: InProcessChannel;
  constructor(inner: InProcessChannel) {
    this.#inner = inner;
  }
  hello: AgentChannel['hello'] = (h) => this.#inner.hello(h);
  heartbeat: AgentChannel['heartbeat'] = (m) => this.#inner.heartbeat(m);
  results: AgentChannel['results'] = (m) => this.#inner.results(m);
  poll: AgentChannel['poll'] = async (m) => (await this.#inner.poll(m)).map((c) => (c.op === 'list' ? { id: c.id, op: 'list' } : c));
}

const MACHINE = cpuHost(33000);

for (const ts of TEST_STORES) {
  describe(`host sweep (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let location: string;
    const stores: KyselyStore[] = [];
    const agents: Agent[] = [];
    const planes: ControlPlane[] = [];
    let admin: Principal;

    const plane = async (over: Record<string, unknown> = {}): Promise<ControlPlane> => {
      const cp = await replicaPlane(ts, stores, location, dir, { leaseMs: 5000, observeIntervalMs: 0, stepTimeoutMs: 1000, ...over });
      planes.push(cp);
      if (planes.length === 1) {
        await cp.bootstrapAdmin('admin-key');
        admin = await cp.authenticate('admin-key');
      }
      return cp;
    };

    /** A host joins a replica as `gantry up` joins its embedded one; `old`: an agent from before the sweep. */
    const connect = async (cp: ControlPlane, runtime: Runtime, token: string, hostKey: string, old: boolean | CountingChannel[] = false): Promise<number> => {
      await ensureHostToken(cp.ctx, admin.accountId, token);
      const inner = new InProcessChannel(cp.agents, token);
      const counting = new CountingChannel(inner);
      if (Array.isArray(old)) old.push(counting);
      const agent = new Agent({
        channel: old === true ? new OldAgentChannel(inner) : counting,
        runtime,
        hostKey,
        describe: () => Promise.resolve({ ...MACHINE, hostname: hostKey }),
        gpuUtils: () => Promise.resolve(null),
        log: createLogger('silent'),
      });
      await agent.start();
      agents.push(agent);
      assert.ok(agent.machineId !== null, `machine ${hostKey} registered`);
      return agent.machineId;
    };
    const create = async (cp: ControlPlane, machineId: number): Promise<number> =>
      (await cp.createInstance(admin, createRequest({ offerId: machineId * 1000, diskGb: 1 }))).instance.id;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-sweep-'));
      location = await ts.fresh(dir);
    });
    after(async () => {
      for (const agent of agents) await agent.stop();
      for (const cp of planes) cp.agents.close();
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('finds a workload that died (exit code recorded) and one running against a stopped intent; what is at rest costs no inspect', async () => {
      const cp = await plane();
      const rt = new ScriptedRuntime();
      const machineId = await connect(cp, rt, newHostToken(), 'swept-a');
      const died = await create(cp, machineId);
      const calm = await create(cp, machineId);
      while ((await passLater(cp)) > 0); // both started
      assert.equal((await cp.ctx.store.getInstance(calm))?.status, 'running');
      rt.states.set(died, { state: 'exited', exitCode: 7 }); // ended with no exit hint: only a look finds it
      rt.inspects = [];
      const lists = rt.lists;
      await passLater(cp);
      assert.equal(rt.lists, lists + 1, 'one list for the host');
      // The agent inspects each workload for its listing; the one handed over is recorded from that listing.
      assert.deepEqual(rt.inspects.sort(), [died, calm].sort(), 'no look of its own at the one handed over, none at the one at rest');
      const gone = await cp.ctx.store.getInstance(died);
      assert.equal(gone?.status, 'exited');
      assert.equal(gone?.exitCode, 7);
      assert.equal(gone?.statusMsg, 'main process exited with code 7');
      // Recorded: the next sweeps find it at rest too.
      rt.inspects = [];
      await passLater(cp);
      assert.deepEqual(rt.inspects.sort(), [died, calm].sort(), 'listed with their observations, no look of their own');

      await cp.changeInstance(admin, calm, 'stop');
      await passLater(cp);
      assert.equal((await cp.ctx.store.getInstance(calm))?.status, 'stopped');
      rt.states.set(calm, { state: 'running' }); // something started it behind our back
      await passLater(cp);
      assert.equal(rt.states.has(calm), false, 'stopped again');
      assert.equal((await cp.ctx.store.getInstance(calm))?.status, 'stopped');

      rt.states.set(4242, { state: 'running' }); // a labelled workload whose instance the store never heard of
      await passLater(cp);
      await until('the orphan removed', () => !rt.states.has(4242));
    });

    it('an exit the sweep saw is recorded from its listing (no inspect sent) as a look records it; a stale observation is inspected', async () => {
      // Two replicas on one database and one host: `seen` records from the sweep's observation, `stale`
      // (observationMaxAgeMs 0) inspects every row handed over, as before.
      const seen = await plane();
      const stale = await plane({ observationMaxAgeMs: 0 });
      const rt = new ScriptedRuntime();
      const token = newHostToken();
      const channels: CountingChannel[] = [];
      const machineId = await connect(seen, rt, token, 'swept-seen', channels);
      await connect(stale, rt, token, 'swept-seen', channels);
      const [toSeen, toStale] = channels as [CountingChannel, CountingChannel];
      const a = await create(seen, machineId);
      const b = await create(seen, machineId);
      while ((await passLater(seen)) > 0); // both started
      const changes: number[] = [];
      for (const cp of [seen, stale]) cp.ctx.store.changes.subscribe('instance-status', (c) => c.id !== null && changes.push(c.id));
      const exitedCount = async (cp: ControlPlane): Promise<number> =>
        (await cp.ctx.metrics.instanceTransitions.get()).values.find((v) => v.labels.to === 'exited')?.value ?? 0;

      rt.states.set(a, { state: 'exited', exitCode: 3 });
      toSeen.ops.length = 0;
      const looked = seen.reconciler.totals.fromSweep;
      await passLater(seen);
      assert.deepEqual(toSeen.ops, ['list'], 'the listing only: no inspect');
      assert.equal(seen.reconciler.totals.fromSweep, looked + 1);

      rt.states.set(b, { state: 'exited', exitCode: 3 });
      toStale.ops.length = 0;
      await passLater(stale);
      assert.deepEqual(toStale.ops, ['list', 'inspect'], 'too old to stand for a look: inspected');

      const [ra, rb] = [await seen.ctx.store.getInstance(a), await seen.ctx.store.getInstance(b)];
      // Compute billed up to the exit and its meter closed, the lease released.
      const closed = async (r: typeof ra): Promise<boolean> =>
        (await seen.ctx.store.listCharges(admin.accountId, { from: 0, to: Date.now() + 60_000, limit: 10, instanceId: r?.id ?? 0 })).some(
          (c) => c.kind === 'gpu' && c.end === r?.statusChangedAt,
        );
      const record = async (r: typeof ra) => ({
        status: r?.status,
        statusMsg: r?.statusMsg,
        exitCode: r?.exitCode,
        observedGeneration: r?.observedGeneration,
        pendingOp: r?.pendingOp,
        leaseToken: r?.leaseToken,
        metered: await closed(r),
      });
      assert.deepEqual(await record(ra), await record(rb), 'the same record either way');
      assert.equal((await record(ra)).metered, true);
      assert.equal(ra?.status, 'exited');
      assert.equal(ra?.statusMsg, 'main process exited with code 3');
      await until('both changes announced', () => changes.includes(a) && changes.includes(b));
      assert.equal(await exitedCount(seen), 1);
      assert.equal(await exitedCount(stale), 1);
      // Recorded: at rest for the next sweep, no look at all.
      toSeen.ops.length = 0;
      await passLater(seen);
      assert.deepEqual(toSeen.ops, ['list']);
    });

    it('two replicas on one database never sweep one host at once', async () => {
      const a = await plane({ observeIntervalMs: 0 });
      const b = await plane({ observeIntervalMs: 0 });
      const rt = new ScriptedRuntime();
      const token = newHostToken();
      // Each replica has its own agent and session to the one machine, as when an agent's polls reach either.
      const machineId = await connect(a, rt, token, 'swept-b');
      await connect(b, rt, token, 'swept-b');
      await create(a, machineId);
      for (let round = 0; round < 10; round++) {
        const lists = rt.lists;
        await laterMs();
        await Promise.all([a.reconciler.passOnce(), b.reconciler.passOnce()]);
        assert.equal(rt.lists - lists, 1, `round ${round}: the host was listed once`);
      }
      // The store's side: claims that meet take the machine at most once between them.
      for (let round = 0; round < 10; round++) {
        const now = Date.now();
        const claim = (cp: ControlPlane, owner: string) =>
          cp.ctx.store.claimHostSweeps({ owner, now, leaseMs: 5000, sweptBefore: now, limit: 10, machineIds: [machineId] });
        const [x, y] = await Promise.all([claim(a, 'x'), claim(b, 'y')]);
        assert.equal(x.machineIds.length + y.machineIds.length, 1, `round ${round}: one claim got the host`);
        const held = x.machineIds.length === 1 ? x : y;
        assert.deepEqual((await claim(a, 'z')).machineIds, [], 'held: not claimed again');
        await a.ctx.store.finishHostSweeps(held.token, held.machineIds, now);
        assert.deepEqual(
          (await a.ctx.store.claimHostSweeps({ owner: 'z', now, leaseMs: 5000, sweptBefore: now - 1, limit: 10, machineIds: [machineId] })).machineIds,
          [],
          'just swept: not due',
        );
      }
    });

    it('an agent from before the sweep (bare ids): its instances are looked at one by one as before, orphans still removed', async () => {
      const cp = await plane();
      const rt = new ScriptedRuntime();
      const machineId = await connect(cp, rt, newHostToken(), 'swept-old', true);
      const id = await create(cp, machineId);
      await passLater(cp);
      assert.equal((await cp.ctx.store.getInstance(id))?.status, 'running');
      rt.inspects = [];
      await passLater(cp);
      assert.deepEqual(rt.inspects, [id], 'due by time (observeIntervalMs 0): handed over and looked at, as before the sweep');
      rt.states.set(id, { state: 'exited', exitCode: 5 });
      rt.inspects = [];
      await passLater(cp);
      assert.deepEqual(rt.inspects, [id], 'no observations in the listing: the per-instance look only');
      const row = await cp.ctx.store.getInstance(id);
      assert.equal(row?.status, 'exited');
      assert.equal(row?.exitCode, 5);
      rt.states.set(4243, { state: 'running' });
      await passLater(cp);
      await until('the orphan removed', () => !rt.states.has(4243));
    });
  });
}
