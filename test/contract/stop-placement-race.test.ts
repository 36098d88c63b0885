import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { machineReg, rental } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Stops of many instances on one machine recorded at once, on a free machine (nothing charged, so no account
 * row orders the writers): each write gives its GPUs back and places waiting claims under the machine's lock.
 * Every write must go through, none aborted as a deadlock's victim past its retries.
 */
for (const ts of TEST_STORES) {
  describe(`stops recorded at once on one machine (${ts.name})`, { skip: ts.skip }, () => {
    it('every stop is written: none is a deadlock victim', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gantry-stopplace-'));
      const store = new KyselyStore(ts.dialect(await ts.fresh(dir)));
      await store.migrate();
      try {
        const t0 = 1_000_000;
        const renter = await store.createAccount({ username: 'r', email: 'r@x', isAdmin: false, now: t0 });
        const m = (
          await store.registerMachine({ ...machineReg('free', renter.id, 16), portRangeStart: 20_000, portRangeEnd: 29_999, directPortCount: 10_000 }, t0)
        ).id;
        const ids: number[] = [];
        for (let i = 0; i < 16; i++) {
          const inst = await store.createInstance(
            rental({
              accountId: renter.id,
              machineId: m,
              now: t0,
              numGpus: 1,
              diskGb: 1,
              dphBase: 0,
              storageCost: 0,
              target: 'running',
              instanceKeyHash: (id) => `k${id}`,
            }),
          );
          ids.push(inst.id);
        }
        const observe = async (t: number, status: 'running' | 'stopped', target?: 'stopped') => {
          const rows = await store.claimInstances({ owner: 'x', now: t, leaseMs: 1, observeBefore: t + 1, limit: 100, dueIds: ids, machineIds: [m] });
          assert.equal(rows.length, ids.length);
          if (target !== undefined) for (const r of rows) await store.writeIntent(r.id, r.generation, { target, pendingOp: null, acquireGpus: false, now: t });
          const token = rows[0]?.leaseToken as string;
          const results = await Promise.allSettled(
            rows.map((r) =>
              store.applyObservation(r.id, token, { status, statusMsg: null, exitCode: null, observedGeneration: r.generation, pendingOpDone: false, now: t }),
            ),
          );
          for (const r of rows) await store.releaseLease(r.id, token, t);
          return results.filter((r) => r.status === 'rejected').map((r) => String(r.reason));
        };
        assert.deepEqual(await observe(t0 + 1_000, 'running'), []);
        assert.deepEqual(await observe(t0 + 2_000, 'stopped', 'stopped'), [], 'every stop written');
      } finally {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}
