import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * A copy between instances reports its end to the control plane that holds the source's agent session
 * (docs/decisions/011-instance-copy.md). One killed mid-copy (kill -9, OOM, power) never records it: the
 * destination's status_msg read `copy …: running` for as long as the instance ran. The next hello of the
 * source's host records it failed.
 */
const GPUS = '3x RTX 4090:24GB';

for (const store of TEST_STORES) {
  describe(`a copy whose control plane died (${store.name})`, { skip: store.skip }, () => {
    let g: TestGantry;
    let a: number;
    let b: number;
    let c: number;

    const create = async (): Promise<number> => {
      const r = await g.api('PUT', `/api/v0/asks/${(g.agent?.machineId as number) * 1000 + 1}/`, { image: 'x', disk: 1, onstart: 'sleep 600' });
      assert.equal(r.status, 200, r.text);
      return r.body.new_contract as number;
    };

    before(async () => {
      g = await startTestGantry(store, { gpus: GPUS });
      a = await create();
      b = await create();
      c = await create();
      for (const id of [a, b, c]) await g.waitInstance(id, (r) => r.actual_status === 'running');
    });
    after(() => g.dispose());

    it('is recorded failed when the host says hello to the restarted control plane; ended copies keep their end', async () => {
      // What a control plane killed while it ran these copies left behind (it wrote `running` before it sent the order).
      const stuck = `copy from C.${a}:/data to /in: running`;
      const ended = `copy from C.${a}:/data to /other: done, 12 bytes`;
      // A source on another host: this host's hello says nothing about it.
      const elsewhere = `copy from C.999999:/data to /x: running`;
      assert.ok(await g.store.setStatusMsg(b, stuck));
      assert.ok(await g.store.setStatusMsg(c, ended));
      assert.ok(await g.store.setStatusMsg(a, elsewhere));
      await g.close(); // workloads keep running, as after a kill
      g = await startTestGantry(store, { gpus: GPUS, dataDir: g.dataDir, database: g.database });

      const row = await g.waitInstance(b, (r) => String(r.status_msg).startsWith(`copy from C.${a}:/data to /in: failed`), 30_000);
      assert.match(String(row.status_msg), /control plane it reported to stopped before it ended; what it copied may be incomplete, copy again$/);
      assert.equal(row.actual_status, 'running', 'the instance itself is untouched');
      assert.equal((await g.waitInstance(c, (r) => r.actual_status === 'running')).status_msg, ended);
      assert.equal((await g.waitInstance(a, (r) => r.actual_status === 'running')).status_msg, elsewhere);
    });
  });
}
