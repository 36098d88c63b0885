import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createSshKey, deleteSshKey, followSshKeys } from '../../src/control/accounts/ssh-keys.js';
import type { ControlPlane } from '../../src/control/control-plane.js';
import type { HostLink } from '../../src/control/hosts/hosts.js';
import type { Principal } from '../../src/control/principal.js';
import type { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { instanceRow, joinHost, replicaPlane } from '../helpers/replica.js';
import { TEST_STORES } from '../helpers/stores.js';

const KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGantryReplicaTestKeyOnlyForThisTestAAAAAAAA test@replicas';

/**
 * An SSH key added or deleted through one replica reaches the host whose session another replica holds:
 * the host checks logins against the keys it was last given, so a deleted key must not keep working.
 */
for (const ts of TEST_STORES) {
  describe(`SSH keys across replicas (${ts.name})`, { skip: ts.skip }, () => {
    let dir: string;
    let a: ControlPlane;
    let b: ControlPlane;
    let admin: Principal;
    let instanceId: number;
    let unfollow: () => void;
    const stores: KyselyStore[] = [];
    /** What the host was told, per call: the instance and its keys. */
    const written: { id: number; keys: readonly string[] }[] = [];

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-ssh-replicas-'));
      const location = await ts.fresh(dir);
      a = await replicaPlane(ts, stores, location, dir, {});
      b = await replicaPlane(ts, stores, location, dir, {});
      await a.bootstrapAdmin('admin-key');
      admin = await a.authenticate('admin-key');
      const { welcome } = await joinHost(a, admin.accountId, 'ssh-a', 36000);
      // Replica A holds the host's session; the host here only records the keys it is given.
      const host = { setSshKeys: async (id: number, keys: readonly string[]) => void written.push({ id, keys }) } as unknown as HostLink;
      a.ctx.hosts.set(welcome.machineId, host);
      instanceId = await instanceRow(a, admin.accountId, welcome.machineId);
      unfollow = followSshKeys(a.ctx);
    });
    after(async () => {
      unfollow();
      a.agents.close();
      b.agents.close();
      for (const s of stores) await s.close();
      await rm(dir, { recursive: true, force: true });
    });

    const lastWritten = async (want: readonly string[]): Promise<readonly string[] | undefined> => {
      for (let i = 0; i < 200; i++) {
        const last = written.filter((w) => w.id === instanceId).at(-1)?.keys;
        if (last !== undefined && JSON.stringify(last) === JSON.stringify(want)) return last;
        await new Promise((r) => setTimeout(r, 25));
      }
      return written.filter((w) => w.id === instanceId).at(-1)?.keys;
    };

    it('a key added through the other replica is written to the host; deleted there, it is taken off the host', async () => {
      assert.equal(b.ctx.hosts.get(a.ctx.hosts.machineIds()[0] ?? -1), undefined, 'replica B holds no session of the host');
      const key = await createSshKey(b.ctx, admin, KEY);
      assert.deepEqual(await lastWritten([KEY]), [KEY]);
      await deleteSshKey(b.ctx, admin, key.id);
      assert.deepEqual(await lastWritten([]), [], 'the deleted key is no longer one the host accepts');
    });

    it('a replica left with a stale link (its agent moved) whose write fails hands the change to the others', async () => {
      const machineId = a.ctx.hosts.machineIds()[0] ?? -1;
      b.ctx.hosts.set(machineId, { setSshKeys: () => Promise.reject(new Error('HOST_UNAVAILABLE: the agent left')) } as unknown as HostLink);
      try {
        const key = await createSshKey(b.ctx, admin, KEY);
        assert.deepEqual(await lastWritten([KEY]), [KEY]);
        await deleteSshKey(b.ctx, admin, key.id);
        assert.deepEqual(await lastWritten([]), []);
      } finally {
        b.ctx.hosts.delete(machineId);
      }
    });
  });
}
