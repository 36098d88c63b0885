import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { hashKey, newApiKey } from '../../src/control/keys.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * The host side of the Vast dialect: list/unlist, min_chunk offers, maintenance windows, min bid, ownership.
 * Dates sent are read from the injected clock, and time passes only where a test moves it.
 */
for (const ts of TEST_STORES) {
  describe(`vast host side: machines and listings (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let clock: ManualClock;
    let machineId: number;
    let otherKey: string;
    const sizes = async (): Promise<number[]> =>
      ((await g.api('POST', '/api/v0/bundles/', { limit: 100 })).body.offers as { num_gpus: number; machine_id: number }[])
        .filter((o) => o.machine_id === machineId)
        .map((o) => o.num_gpus)
        .sort((x, y) => x - y);

    before(async () => {
      clock = new ManualClock();
      g = await startTestGantry(ts, { gpus: '8x A100:80GB', clock, settings: { machineCacheMs: 0 } });
      machineId = (await g.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
      const other = await g.store.createAccount({ username: 'other', email: 'o@example.com', isAdmin: false, now: clock.now() });
      otherKey = newApiKey();
      await g.store.createApiKey({ accountId: other.id, keyHash: hashKey(otherKey), name: 'k', scope: 'full', instanceId: null, now: clock.now() });
    });
    after(() => g.dispose());

    it('list machine sets prices and min_chunk: 8 GPUs with min_chunk 2 offer 2, 4 and 8', async () => {
      const r = await g.api('PUT', '/api/v0/machines/create_asks/', { machine: machineId, price_gpu: 1.5, price_disk: 0.2, min_chunk: 2, price_min_bid: 0.7 });
      assert.equal(r.status, 200, r.text);
      assert.equal(r.body.success, true);
      assert.deepEqual(await sizes(), [2, 4, 8]);
      const offer = (await g.api('POST', '/api/v0/bundles/', { limit: 100 })).body.offers.find((o: any) => o.num_gpus === 2);
      assert.equal(offer.dph_base, 3);
      assert.equal(offer.min_bid, 1.4);
      const m = (await g.api('GET', '/api/v0/machines/')).body.machines[0];
      assert.equal(m.listed_gpu_cost, 1.5);
      assert.equal(m.min_chunk, 2);
    });

    it('free GPUs shape the chunks: renting 2 leaves 2 and 4', async () => {
      const r = await g.api('PUT', `/api/v0/asks/${machineId * 1000 + 2}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh' });
      assert.equal(r.status, 200, r.text);
      await g.waitInstance(r.body.new_contract as number, (x) => x.actual_status === 'running');
      assert.deepEqual(await sizes(), [2, 4]);
    });

    it('unlist hides the machine from search; the running rental continues', async () => {
      const r = await g.api('DELETE', `/api/v0/machines/${machineId}/asks/`);
      assert.equal(r.status, 200);
      assert.deepEqual(r.body, { success: true, machine_id: machineId, user_id: 1 });
      assert.deepEqual(await sizes(), []);
      const rows = (await g.api('GET', '/api/v0/instances/')).body.instances as Record<string, unknown>[];
      assert.ok(rows.every((x) => x.actual_status === 'running'));
      assert.equal((await g.api('PUT', `/api/v0/asks/${machineId * 1000 + 2}/`, { image: 'x' })).status, 404, 'an unlisted machine is not rentable');
      assert.equal((await g.api('PUT', '/api/v0/machines/create_asks/', { machine: machineId })).status, 200);
      assert.deepEqual(await sizes(), [2, 4]);
    });

    it('a maintenance window hides offers while it is open; cancel_maint shows them again', async () => {
      const now = clock.now() / 1000;
      const later = await g.api('PUT', `/api/v0/machines/${machineId}/dnotify/`, { sdate: now + 3600, duration: 2, maintenance_category: 'gpu' });
      assert.equal(later.status, 200);
      assert.deepEqual(later.body, { success: true, you_sent: '1 notifications sent' });
      assert.deepEqual(await sizes(), [2, 4], 'a future window hides nothing yet');
      const m = (await g.api('GET', '/api/v0/machines/')).body.machines[0];
      assert.equal(m.maintenance.sdate, now + 3600);
      assert.equal(m.maintenance.reason, 'gpu');
      assert.equal((await g.api('PUT', `/api/v0/machines/${machineId}/dnotify/`, { sdate: new Date(clock.now()).toISOString(), duration: 1 })).status, 200);
      assert.deepEqual(await sizes(), [], 'offers are hidden during the window');
      const c = await g.api('PUT', `/api/v0/machines/${machineId}/cancel_maint/`);
      assert.equal(c.status, 200);
      assert.equal(c.body.msg, `deleted 1 scheduled maintenance window(s) on machine ${machineId}`);
      assert.deepEqual(await sizes(), [2, 4]);
    });

    it('min bid is set per machine', async () => {
      const r = await g.api('PUT', `/api/v0/machines/${machineId}/minbid/`, { price: 0.9 });
      assert.equal(r.status, 200);
      const offer = (await g.api('POST', '/api/v0/bundles/', { limit: 100, type: 'bid' })).body.offers.find((o: any) => o.num_gpus === 2);
      assert.equal(offer.min_bid, 1.8);
    });

    it('bad listings are 400s that name the field', async () => {
      const cases: [Record<string, unknown>, string][] = [
        [{ machine: machineId, min_chunk: 3 }, 'min_chunk'],
        [{ machine: machineId, min_chunk: 16 }, 'min_chunk'],
        [{ machine: machineId, price_gpu: -1 }, 'price_gpu'],
        [{ machine: machineId, price_gpu: 'cheap' }, 'price_gpu'],
        [{ machine: machineId, end_date: 1 }, 'end_date'],
        [{ machine: 'x' }, 'machine'],
      ];
      for (const [body, field] of cases) {
        const r = await g.api('PUT', '/api/v0/machines/create_asks/', body);
        assert.equal(r.status, 400, JSON.stringify(body));
        assert.match(r.text, new RegExp(field));
      }
      assert.equal((await g.api('PUT', `/api/v0/machines/${machineId}/dnotify/`, { sdate: 1, duration: 1 })).status, 400, 'a window in the past');
      assert.equal((await g.api('PUT', `/api/v0/machines/${machineId}/dnotify/`, { sdate: clock.now() / 1000 + 60, duration: 0 })).status, 400);
      assert.equal((await g.api('PUT', `/api/v0/machines/${machineId}/minbid/`, {})).status, 400);
    });

    it('another account sees none of these machines and cannot change them (404, not 403)', async () => {
      const list = await g.api('GET', '/api/v0/machines/', undefined, { key: otherKey });
      assert.deepEqual(list.body.machines, []);
      for (const [method, path, body] of [
        ['PUT', '/api/v0/machines/create_asks/', { machine: machineId }],
        ['DELETE', `/api/v0/machines/${machineId}/asks/`, undefined],
        ['PUT', `/api/v0/machines/${machineId}/dnotify/`, { sdate: clock.now() / 1000 + 60, duration: 1 }],
        ['PUT', `/api/v0/machines/${machineId}/cancel_maint/`, undefined],
        ['PUT', `/api/v0/machines/${machineId}/minbid/`, { price: 0.1 }],
      ] as const) {
        const r = await g.api(method, path, body, { key: otherKey });
        assert.equal(r.status, 404, `${method} ${path}`);
      }
      assert.deepEqual(await sizes(), [2, 4], 'nothing changed');
    });

    it('an end_date in the past of the listing ends it', async () => {
      const soon = clock.now() / 1000 + 1;
      assert.equal((await g.api('PUT', '/api/v0/machines/create_asks/', { machine: machineId, end_date: soon })).status, 200);
      assert.deepEqual(await sizes(), [2, 4]);
      clock.advance(1_100);
      assert.deepEqual(await sizes(), [], 'the listing expired');
      assert.equal((await g.api('GET', '/api/v0/machines/')).body.machines[0].listed, false);
    });
  });
}
