import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { ControlPlane } from '../../src/control/control-plane.js';
import { followHostCalls } from '../../src/control/host-calls.js';
import type { HostLink } from '../../src/control/hosts/hosts.js';
import { LOG_HOST_CALLS } from '../../src/control/instances/request-logs.js';
import type { Principal } from '../../src/control/principal.js';
import type { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { instanceRow, joinHost, replicaPlane } from '../helpers/replica.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Instance logs asked for through a replica the host's agent does not talk to: that replica writes the
 * call to the database, the agent's replica reads the logs and stores them as the result (PostgreSQL:
 * replicas share one database; one SQLite server holds every session itself).
 */
for (const ts of TEST_STORES) {
  const skip = ts.skip !== false ? ts.skip : ts.name !== 'postgres' ? 'replicas share a PostgreSQL database' : false;
  describe(`host calls across replicas (${ts.name})`, { skip }, () => {
    let dir: string;
    let a: ControlPlane;
    let b: ControlPlane;
    let admin: Principal;
    let instanceId: number;
    let unfollow: () => void;
    const stores: KyselyStore[] = [];
    let logs: (id: number, tail: number) => Promise<string> = async () => '';

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-host-calls-'));
      const location = await ts.fresh(dir);
      a = await replicaPlane(ts, stores, location, dir, {});
      b = await replicaPlane(ts, stores, location, dir, { agentCallTimeoutMs: 2_000 });
      await a.bootstrapAdmin('admin-key');
      admin = await a.authenticate('admin-key');
      const { welcome } = await joinHost(a, admin.accountId, 'calls-a', 36600);
      // Replica A holds the host's session; the host answers logs as the test says.
      a.ctx.hosts.set(welcome.machineId, { logs: (id: number, tail: number) => logs(id, tail) } as unknown as HostLink);
      instanceId = await instanceRow(a, admin.accountId, welcome.machineId);
      unfollow = followHostCalls(a.ctx, LOG_HOST_CALLS);
    });
    after(async () => {
      unfollow();
      a.agents.close();
      b.agents.close();
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    it("reads an instance's logs through the agent's replica, filtered and cut there, and fetched from either", async () => {
      logs = async (id, tail) => (id === instanceId ? ['one', 'two error', 'three', 'four error'].slice(-tail).join('\n') + '\n' : '');
      const { token } = await b.requestLogs(admin, instanceId, { tail: 1, filter: 'error' });
      assert.equal(await b.fetchResult(token), 'four error\n');
      assert.equal(await a.fetchResult(token), 'four error\n');
    });

    it("says the host's own reason when the logs could not be read, and HOST_UNAVAILABLE when no replica answers in time", async () => {
      logs = () => Promise.reject(new Error('the engine is not running'));
      await assert.rejects(b.requestLogs(admin, instanceId, { tail: 5, filter: null }), { code: 'HOST_UNAVAILABLE', message: 'the engine is not running' });
      unfollow();
      unfollow = () => undefined;
      await assert.rejects(b.requestLogs(admin, instanceId, { tail: 5, filter: null }), {
        code: 'HOST_UNAVAILABLE',
        message: /did not answer .* within 2000 ms/,
      });
    });
  });
}
