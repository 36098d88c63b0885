import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Agent } from '../../src/agent/agent.js';
import { type ControlPlane } from '../../src/control/control-plane.js';
import type { Observation } from '../../src/domain/instance/reconcile.js';
import { type KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { createRequest } from '../helpers/requests.js';
import { TEST_STORES } from '../helpers/stores.js';
import { passLater, replicaPlane } from '../helpers/replica.js';
import { cpuHost } from '../helpers/machines.js';
import { joinCountingAgent, ScriptedRuntime } from '../helpers/scripted-host.js';
import { until } from '../helpers/serverless.js';

/**
 * A host slow to list delays only itself (decision 017): one host's `list` is taken by its agent and not
 * answered (its runtime's inspect hangs, as an engine that hangs does), while the replica's reconciler runs.
 * The other host is swept again and again meanwhile; the slow host keeps its sweep lease (no other replica
 * takes it) and is not asked again; its late answer is compared all the same. No timing is asserted: only
 * what happens while the slow listing is still awaited.
 */
class HangingRuntime extends ScriptedRuntime {
  #gate: Promise<void> | null = null;
  #open = (): void => undefined;

  /** From now on, an inspect (the agent's observing `list` inspects every workload) waits until `release`. */
  hold(): void {
    this.#gate = new Promise((resolve) => (this.#open = resolve));
  }
  release(): void {
    this.#gate = null;
    this.#open();
  }
  override async inspect(id: number): Promise<Observation> {
    if (this.#gate !== null) await this.#gate;
    return super.inspect(id);
  }
}

for (const ts of TEST_STORES) {
  describe(`host sweep with a host slow to list (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    const stores: KyselyStore[] = [];
    const agents: Agent[] = [];
    let cp: ControlPlane;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-sweep-slow-'));
      const location = await ts.fresh(dir);
      // A listing may take a minute (agentCallTimeoutMs): the sweep waits for it 20 ms, and sweeps every 20 ms.
      cp = await replicaPlane(ts, stores, location, dir, {
        leaseMs: 5000,
        observeIntervalMs: 20,
        reconcileIdleMs: 10,
        agentCallTimeoutMs: 60_000,
        sweepListWaitMs: 20,
        stepTimeoutMs: 5000,
      });
      await cp.bootstrapAdmin('admin-key');
    });
    after(async () => {
      await cp.reconciler.stop();
      for (const agent of agents) await agent.stop();
      cp.agents.close();
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('the other host is swept meanwhile (its orphan removed, its dead workload recorded); the slow one is asked once, keeps its lease, and its late listing is compared', async () => {
      const admin = await cp.authenticate('admin-key');
      const connect = (runtime: ScriptedRuntime, hostKey: string, port: number) =>
        joinCountingAgent(cp, admin.accountId, runtime, hostKey, cpuHost(port), agents);
      const fastRt = new ScriptedRuntime();
      const slowRt = new HangingRuntime();
      const fast = await connect(fastRt, 'sweep-fast', 34000);
      const slow = await connect(slowRt, 'sweep-slow', 34100);
      const id = (await cp.createInstance(admin, createRequest({ offerId: fast.machineId * 1000, diskGb: 1 }))).instance.id;
      while ((await passLater(cp)) > 0); // started, every host swept once
      assert.equal((await cp.ctx.store.getInstance(id))?.status, 'running');

      slowRt.states.set(5001, { state: 'running' }); // an orphan on the slow host
      slowRt.hold();
      const slowListed = slow.channel.count('list');
      cp.reconciler.start();
      try {
        await until('the slow host asked for its listing', () => slow.channel.count('list') === slowListed + 1);
        const listed = fast.channel.count('list');

        fastRt.states.set(5002, { state: 'running' }); // an orphan on the fast host
        await until('the fast host’s orphan removed', () => !fastRt.states.has(5002));
        fastRt.states.set(id, { state: 'exited', exitCode: 4 }); // died with no exit event: only a sweep finds it
        await until('the dead workload recorded', async () => (await cp.ctx.store.getInstance(id))?.status === 'exited');
        await until('the fast host swept three more times', () => fast.channel.count('list') >= listed + 3);

        assert.equal(slow.channel.count('list'), slowListed + 1, 'the slow host is not asked again while its listing is awaited');
        assert.ok(slowRt.states.has(5001), 'its orphan waits for its listing');
        const now = Date.now();
        const other = await cp.ctx.store.claimHostSweeps({
          owner: 'another-replica',
          now,
          leaseMs: 5000,
          sweptBefore: now,
          limit: 10,
          machineIds: [slow.machineId],
        });
        assert.deepEqual(other.machineIds, [], 'its sweep lease is held: no other replica takes it');

        slowRt.release();
        await until('the slow host’s orphan removed after its late listing', () => !slowRt.states.has(5001));
        await until('the slow host swept again', () => slow.channel.count('list') >= slowListed + 2);
      } finally {
        slowRt.release();
        await cp.reconciler.stop();
      }
      const swept = (await cp.ctx.metrics.hostSweeps.get()).values.find((v) => v.labels.outcome === 'swept')?.value ?? 0;
      assert.equal(cp.reconciler.totals.hostsSwept, swept, 'every host compared is counted, the late one too');
    });
  });
}
