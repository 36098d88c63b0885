import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type Agent } from '../../src/agent/agent.js';
import { type ControlPlane } from '../../src/control/control-plane.js';
import type { Principal } from '../../src/control/principal.js';
import type { Runtime } from '../../src/runtime/runtime.js';
import { type KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { createRequest } from '../helpers/requests.js';
import { TEST_STORES } from '../helpers/stores.js';
import { replicaPlane } from '../helpers/replica.js';
import { cpuHost } from '../helpers/machines.js';
import { joinCountingAgent, ScriptedRuntime } from '../helpers/scripted-host.js';

/**
 * Pushed listings (decision 021): an agent that sends every workload with its observation in its heartbeats,
 * and a heartbeat at once when that listing changes, is swept from what it pushed: no `list` command, and
 * what changed goes through the per-instance path exactly as a listed change does.
 */
const MACHINE = cpuHost(34000);

/** Drive the reconciler by hand until a fact holds, bounded. */
async function passUntil(cp: ControlPlane, what: string, f: () => Promise<boolean>): Promise<void> {
  const deadline = Date.now() + 10_000;
  while (!(await f())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await cp.reconciler.passOnce();
    await new Promise((r) => setTimeout(r, 20));
  }
}

for (const ts of TEST_STORES) {
  describe(`host sweep from pushed listings (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let location: string;
    const stores: KyselyStore[] = [];
    const agents: Agent[] = [];
    const planes: ControlPlane[] = [];
    let admin: Principal;

    const plane = async (): Promise<ControlPlane> => {
      const cp = await replicaPlane(ts, stores, location, dir, { leaseMs: 5000, observeIntervalMs: 0, stepTimeoutMs: 1000 });
      planes.push(cp);
      if (planes.length === 1) {
        await cp.bootstrapAdmin('admin-key');
        admin = await cp.authenticate('admin-key');
      }
      return cp;
    };

    const connect = (cp: ControlPlane, runtime: Runtime, hostKey: string) =>
      joinCountingAgent(cp, admin.accountId, runtime, hostKey, MACHINE, agents, { pushListings: true });
    const create = async (cp: ControlPlane, machineId: number): Promise<number> =>
      (await cp.createInstance(admin, createRequest({ offerId: machineId * 1000, diskGb: 1 }))).instance.id;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-sweep-push-'));
      location = await ts.fresh(dir);
    });
    after(async () => {
      for (const agent of agents) await agent.stop();
      for (const cp of planes) cp.agents.close();
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    it('a workload that died without an exit event is found from the pushed listing, with no list command; an orphan too', async () => {
      const cp = await plane();
      const rt = new ScriptedRuntime();
      const { machineId, channel } = await connect(cp, rt, 'pushed-a');
      const died = await create(cp, machineId);
      const calm = await create(cp, machineId);
      await passUntil(cp, 'both running', async () => (await cp.ctx.store.getInstance(calm))?.status === 'running' && rt.states.size === 2);
      const swept = await cp.ctx.metrics.hostSweeps.get();
      const before = swept.values.find((v) => v.labels.outcome === 'swept')?.value ?? 0;
      rt.states.set(died, { state: 'exited', exitCode: 7 }); // no event: only the agent's own look at its listing sees it
      const inspects = channel.count('inspect');
      await passUntil(cp, 'the exit recorded', async () => (await cp.ctx.store.getInstance(died))?.status === 'exited');
      const gone = await cp.ctx.store.getInstance(died);
      assert.equal(gone?.exitCode, 7);
      assert.equal(gone?.statusMsg, 'main process exited with code 7');
      assert.equal((await cp.ctx.store.getInstance(calm))?.status, 'running');
      const after = (await cp.ctx.metrics.hostSweeps.get()).values.find((v) => v.labels.outcome === 'swept')?.value ?? 0;
      assert.ok(after > before, 'the host was swept');
      assert.equal(channel.count('list'), 0, 'swept from pushed listings only');
      // A pushed listing was taken before the server heard it (an intent may have come between): looked at again.
      assert.ok(channel.count('inspect') > inspects, 'the exit was recorded from an inspect, not from the pushed listing');

      rt.states.set(4343, { state: 'running' }); // a workload no instance owns
      await passUntil(cp, 'the orphan removed', async () => !rt.states.has(4343));
      assert.equal(channel.count('list'), 0);
    });

    it('an exit the runtime reports is carried by a heartbeat and recorded with its code', async () => {
      const cp = await plane();
      const rt = new ScriptedRuntime();
      const { machineId, channel } = await connect(cp, rt, 'pushed-b');
      const id = await create(cp, machineId);
      await passUntil(cp, 'running', async () => (await cp.ctx.store.getInstance(id))?.status === 'running');
      rt.exit(id, 3);
      await passUntil(cp, 'the exit recorded', async () => (await cp.ctx.store.getInstance(id))?.status === 'exited');
      assert.equal((await cp.ctx.store.getInstance(id))?.exitCode, 3);
      assert.equal(channel.count('list'), 0);
    });

    it('a listing with an entry it cannot read vouches for nothing: the host is asked with list as an older agent is', async () => {
      const cp = await plane();
      const rt = new ScriptedRuntime();
      const { machineId, channel } = await connect(cp, rt, 'pushed-c');
      const session = cp.ctx.hosts.get(machineId) as unknown as { pushListing(l: unknown): void; sweepWanted(ms: number, routine: boolean): boolean };
      const id = await create(cp, machineId);
      await passUntil(cp, 'running', async () => (await cp.ctx.store.getInstance(id))?.status === 'running');
      session.pushListing({ ids: [id], observed: null });
      assert.equal(session.sweepWanted(60_000, false), true, 'a host with no usable listing is swept by time');
      const lists = channel.count('list');
      // The agent's own heartbeats push its readable listing again: the unreadable one is pushed before each pass.
      await passUntil(cp, 'a list command', async () => {
        if (channel.count('list') > lists) return true;
        session.pushListing({ ids: [id], observed: null });
        return false;
      });
    });
  });
}
