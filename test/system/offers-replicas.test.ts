import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

const pg = TEST_STORES.find((s) => s.name === 'postgres');
// The safety nets (heartbeat sweep, full rebuild) wait longer than the test runs: only published changes can explain what b sees.
const shared = { adminKey: 'gnt_offers_replicas_admin', secret: 'offers-replicas-secret', machineCacheMs: 600_000, offersIndexRebuildMs: 600_000 };

// Two control planes on one PostgreSQL; only the first has the host (four GPUs). Offers are rented through a, searched through b.
describe('offers across two replicas on one PostgreSQL', { skip: pg?.skip ?? 'no postgres' }, () => {
  let a: TestGantry;
  let b: TestGantry;
  before(async () => {
    a = await startTestGantry(pg!, { gpus: '4x RTX 4090:24GB', settings: shared });
    b = await startTestGantry(pg!, { database: a.database, localHost: false, settings: shared });
  });
  after(async () => {
    await b.dispose();
    await a.dispose();
  });

  const offerIds = async (g: TestGantry): Promise<number[]> => {
    const r = await g.api('POST', '/api/v0/bundles/', { limit: 100 });
    assert.equal(r.status, 200, r.text);
    return (r.body.offers as { id: number }[]).map((o) => o.id);
  };

  it("a rented offer leaves the other replica's search, and comes back there once the instance is destroyed", async () => {
    const machine = (await a.api('GET', '/api/v0/machines/')).body.machines[0].id as number;
    const whole = machine * 1000 + 4;
    await until('the 4-GPU offer in b’s search', async () => (await offerIds(b)).includes(whole), 10_000);
    const rented = await a.api('PUT', `/api/v0/asks/${whole}/`, { image: 'x', onstart: 'sleep 300', runtype: 'ssh' });
    assert.equal(rented.status, 200, rented.text);
    const id = rented.body.new_contract as number;
    // The replica that took the rental answers from its own change at once; the other hears it through NOTIFY.
    assert.ok(!(await offerIds(a)).includes(whole));
    await until('the rented offer gone from b’s search', async () => !(await offerIds(b)).includes(whole), 5_000);
    assert.equal((await a.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    await until('the offer back in b’s search', async () => (await offerIds(b)).includes(whole), 20_000);
  });
});
