import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { Agent } from '../../src/agent/agent.js';
import { InProcessChannel } from '../../src/agent/channel.js';
import type { ControlPlane } from '../../src/control/control-plane.js';
import { ensureHostToken, newHostToken } from '../../src/control/hosts/host-tokens.js';
import type { Principal } from '../../src/control/principal.js';
import { GantryError } from '../../src/domain/errors.js';
import type { InstanceStatus } from '../../src/domain/instance/status.js';
import { createLogger } from '../../src/log/logger.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { ObservationWrite } from '../../src/store/store.js';
import { cpuHost } from '../helpers/machines.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { planeOn } from '../helpers/replica.js';
import { createRequest } from '../helpers/requests.js';
import { ScriptedRuntime } from '../helpers/scripted-host.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * The record of a confirmed stop, destroy or exit whose write fails (the database gone at that moment): the
 * retry records it at the time the runtime's report was taken, so compute is not charged for the time the
 * database was away, even where a billing pass settled the meter further meanwhile (unwritten-looks.ts).
 */
for (const ts of TEST_STORES) {
  describe(`reconciler: a record whose write failed (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let store: KyselyStore;
    let cp: ControlPlane;
    let agent: Agent;
    let admin: Principal;
    const clock = new ManualClock();
    const runtime = new ScriptedRuntime();
    /** Records of this status fail as writes do while the database is away; how many were tried. */
    let failing: InstanceStatus | null = null;
    let tried = 0;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-unwritten-'));
      store = new KyselyStore(ts.dialect(await ts.fresh(dir)));
      await store.migrate();
      const write = store.applyObservation.bind(store);
      store.applyObservation = (id: number, token: string, o: ObservationWrite): Promise<boolean> => {
        if (o.status !== failing) return write(id, token, o);
        tried++;
        return Promise.reject(new GantryError('DATABASE_UNAVAILABLE', 'The database cannot be reached now (test); try again shortly.'));
      };
      const writeMany = store.applyObservations.bind(store);
      store.applyObservations = (token: string, rows: readonly { id: number; write: ObservationWrite }[]): Promise<boolean[]> => {
        if (!rows.some((r) => r.write.status === failing)) return writeMany(token, rows);
        tried++;
        return Promise.reject(new GantryError('DATABASE_UNAVAILABLE', 'The database cannot be reached now (test); try again shortly.'));
      };
      cp = planeOn(
        store,
        dir,
        {
          leaseMs: 5000,
          observeIntervalMs: 60_000,
          stepTimeoutMs: 30_000,
          // The host stays connected across the test clock's jumps.
          agentPollWaitMs: 60_000,
          machineOfflineMs: 600_000,
        },
        { clock },
      );
      await cp.bootstrapAdmin('admin-key');
      admin = await cp.authenticate('admin-key');
      const token = newHostToken();
      await ensureHostToken(cp.ctx, admin.accountId, token);
      agent = new Agent({
        channel: new InProcessChannel(cp.agents, token),
        runtime,
        hostKey: 'unwritten',
        describe: () => Promise.resolve(cpuHost(34000)),
        gpuUtils: () => Promise.resolve(null),
        log: createLogger('silent'),
      });
      await agent.start();
    });
    after(async () => {
      await agent.stop();
      cp.agents.close();
      await store.close();
      await rm(dir, { recursive: true, force: true });
    });

    /** A running instance whose GPU meter runs from now (a price set, so that its charges show). */
    const running = async (): Promise<number> => {
      const id = (await cp.createInstance(admin, createRequest({ offerId: (agent.machineId as number) * 1000, diskGb: 1 }))).instance.id;
      await cp.reconciler.passOnce();
      assert.equal((await store.getInstance(id))?.status, 'running');
      return id;
    };
    /** The GPU charge rows' last end: the moment compute stopped being charged. */
    const gpuEnd = async (id: number): Promise<number> => {
      const rows = await store.listCharges(admin.accountId, { from: 0, to: clock.now() + 1, limit: 100, instanceId: id });
      return Math.max(...rows.filter((c) => c.kind === 'gpu').map((c) => c.end));
    };

    for (const [verb, status] of [
      ['stop', 'stopped'],
      ['destroy', 'destroyed'],
    ] as const) {
      it(`a ${verb} confirmed while the database is away is charged up to its confirmation, not the retry`, async () => {
        const id = await running();
        clock.advance(20_000);
        await cp.changeInstance(admin, id, verb);
        [failing, tried] = [status, 0];
        await cp.reconciler.passOnce(); // the runtime confirms at T; the record's write fails
        const confirmed = clock.now();
        assert.ok(tried > 0, 'the record was tried');
        failing = null;
        assert.equal(runtime.states.has(id), false, 'the workload is gone');
        assert.notEqual((await store.getInstance(id))?.status, status);
        clock.advance(8_000);
        await store.settleMeters(clock.now()); // the database is back: a billing pass runs first
        clock.advance(1_000);
        await cp.reconciler.passOnce(); // the retry, past the failed look's backoff
        assert.equal((await store.getInstance(id))?.status, status);
        assert.equal(await gpuEnd(id), confirmed);
      });
    }

    it('an exit the agent reported, whose record failed, is charged up to the look that saw it', async () => {
      const id = await running();
      clock.advance(30_000);
      [failing, tried] = ['exited', 0];
      runtime.exit(id, 3);
      cp.reconciler.wake(id); // as the agent's report of the exit wakes it
      await cp.reconciler.passOnce(); // the sweep's record and the look after it fail
      const seen = clock.now();
      assert.ok(tried > 0, 'the record was tried');
      failing = null;
      clock.advance(7_000);
      await store.settleMeters(clock.now());
      clock.advance(1_000);
      cp.reconciler.wake(id);
      await cp.reconciler.passOnce();
      assert.equal((await store.getInstance(id))?.status, 'exited');
      assert.equal(await gpuEnd(id), seen);
    });
  });
}
