import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import type { Store } from '../../src/store/store.js';
import { machineReg, rental } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';

/** The series part of the store port (0026) on every adapter: the console's samples and the autoscaler's decisions. */
for (const ts of TEST_STORES) {
  describe(`series store contract: ${ts.name}`, { skip: ts.skip }, () => {
    let dir: string;
    let store: Store;
    let other: Store;
    let accountId: number;
    let machineId: number;

    before(async () => {
      dir = await mkdtemp(join(tmpdir(), 'gantry-series-store-'));
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

    it('samples spend per account from open meters in one statement; two replicas writing a bucket leave one row', async () => {
      await store.createInstance(
        rental({
          accountId,
          machineId,
          numGpus: 1,
          diskGb: 72,
          dphBase: 0.3,
          storageCost: 0.1,
          target: 'running',
          instanceKeyHash: (id) => `hash-${id}`,
          now: 1000,
        }),
      );
      // A new instance bills its disk only (72 GB at $0.1/GB-month = $0.01/h); compute starts when it runs.
      await Promise.all([store.sampleSpend(10_000), other.sampleSpend(10_000), store.sampleSpend(10_000)]);
      const points = await store.readSamples('spend', accountId, 0, 100);
      assert.equal(points.length, 1);
      assert.equal(points[0]?.[0], 10_000);
      assert.ok(Math.abs((points[0]?.[1] ?? 0) - 0.01) < 1e-9, `spend ${points[0]?.[1]}`);
    });

    it('samples queue depth from fresh gateway counts, summed over replicas, ignoring stale ones and presence rows', async () => {
      await store.putGatewayPending('gw-a', 77, 3, 5_000);
      await store.putGatewayPending('gw-b', 77, 2, 5_000);
      await store.putGatewayPending('gw-dead', 77, 40, 100);
      await store.putGatewayPending('gw-a', 0, 0, 5_000);
      await store.sampleQueue(20_000, 1_000);
      await other.sampleQueue(20_000, 1_000);
      assert.deepEqual(await store.readSamples('queue', 77, 0, 10), [[20_000, 5]]);
      assert.deepEqual(await store.readSamples('queue', 0, 0, 10), []);
    });

    it('puts points by replace or max, reads the newest within the limit oldest first, and prunes by bucket', async () => {
      await store.putSamples(
        'rps',
        30_000,
        [
          { subject: 5, value: 2 },
          { subject: 6, value: 1 },
        ],
        'max',
      );
      await other.putSamples('rps', 30_000, [{ subject: 5, value: 1.5 }], 'max');
      await store.putSamples('rps', 40_000, [{ subject: 5, value: 4 }], 'max');
      await store.putSamples('gpu_util', 30_000, [{ subject: 0, value: 50 }], 'replace');
      await store.putSamples('gpu_util', 30_000, [{ subject: 0, value: 20 }], 'replace');
      assert.deepEqual(
        await store.readSamples('rps', 5, 0, 10),
        [
          [30_000, 2],
          [40_000, 4],
        ],
        'max keeps the larger count; a repeat never adds',
      );
      assert.deepEqual(await store.readSamples('rps', 5, 0, 1), [[40_000, 4]], 'the limit keeps the newest');
      assert.deepEqual(await store.readSamples('rps', 5, 35_000, 10), [[40_000, 4]]);
      assert.deepEqual(await store.readSamples('gpu_util', 0, 0, 10), [[30_000, 20]]);
      const many = Array.from({ length: 6_000 }, (_, i) => ({ subject: 1_000 + i, value: i }));
      await store.putSamples('gpu_util', 30_000, many, 'replace');
      assert.deepEqual(await store.readSamples('gpu_util', 6_999, 0, 10), [[30_000, 5_999]]);
      assert.ok((await store.pruneSamples(35_000)) >= 6_003);
      assert.deepEqual(await store.readSamples('rps', 5, 0, 10), [[40_000, 4]]);
      assert.deepEqual(await store.readSamples('gpu_util', 0, 0, 10), []);
    });

    it('keeps the newest decisions of each endpoint, newest first', async () => {
      const d = (endpointId: number, at: number) => ({
        endpointId,
        at,
        activeTarget: 1,
        totalTarget: 2,
        started: 0,
        created: 1,
        stopped: 0,
        destroyed: 0,
        reason: `load ${at}`,
        refused: at % 2 === 0 ? null : 'no offer matches',
      });
      for (let at = 1; at <= 25; at++) await (at % 2 === 0 ? store : other).recordScaleDecision(d(9, at), 20);
      await store.recordScaleDecision(d(10, 1), 20);
      const kept = await store.listScaleDecisions(9, 100);
      assert.deepEqual(
        kept.map((x) => x.at),
        Array.from({ length: 20 }, (_, i) => 25 - i),
      );
      assert.deepEqual(kept[0], d(9, 25));
      assert.equal((await store.listScaleDecisions(10, 100)).length, 1, "another endpoint's decisions are its own");
      assert.equal((await store.listScaleDecisions(9, 3)).length, 3);
    });
  });
}
