import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Instance listings from memory (docs/decisions/019-listing-memory.md): a listing nothing changed is
 * answered without reading the store, and every change it shows is in the very next listing: the
 * caller's own writes, the reconciler's, and (PostgreSQL) another replica's once its notification arrives.
 */

type Row = Record<string, unknown>;

/** Counts the store's instance reads made for listings from now on. */
function countReads(g: TestGantry): { readonly n: number } {
  const store = g.control.ctx.store;
  const read = store.listInstances.bind(store);
  const counter = { n: 0 };
  store.listInstances = (o) => {
    counter.n++;
    return read(o);
  };
  return counter;
}

const list = async (g: TestGantry, key?: string): Promise<Row[]> => {
  const r = await g.api('GET', '/api/v0/instances/', undefined, key === undefined ? {} : { key });
  assert.equal(r.status, 200, r.text);
  assert.equal(r.contentType, 'application/json');
  return r.body.instances as Row[];
};

for (const ts of TEST_STORES) {
  describe(`instance listings from memory (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let reads: { readonly n: number };
    let id: number;
    before(async () => {
      // Usage figures are the one part bounded by age (machineCacheMs): long here, so only changes drop a listing.
      g = await startTestGantry(ts, { settings: { machineCacheMs: 600_000 } });
      reads = countReads(g);
      const c = await g.api('PUT', '/api/v0/asks/1001/', { image: 'none', onstart: 'sleep 300', runtype: 'ssh' });
      assert.equal(c.status, 200, c.text);
      id = c.body.new_contract as number;
    });
    after(() => g.dispose());

    it('shows what the reconciler records as soon as it is recorded', async () => {
      await until('the listing shows the instance running', async () => (await list(g))[0]?.actual_status === 'running', 30_000);
    });

    it('answers a listing nothing changed without reading the store, with the same bytes', async () => {
      // The instance just started: the agent and the reconciler may still record something of it (a
      // notification, a port). A pair of listings is judged only when nothing dropped the memory between them.
      const views = g.control.ctx.instanceViews;
      const clear = views.clear.bind(views);
      let drops = 0;
      views.clear = () => {
        drops++;
        clear();
      };
      try {
        for (let tries = 0; ; tries++) {
          assert.ok(tries < 50, 'something kept changing the listing');
          const d = drops;
          const first = await g.api('GET', '/api/v0/instances/');
          const n = reads.n;
          const again = await g.api('GET', '/api/v0/instances/');
          if (drops !== d) continue;
          assert.equal(again.text, first.text);
          assert.equal(reads.n, n, 'the second listing came from memory');
          break;
        }
      } finally {
        views.clear = clear;
      }
    });

    it("shows the caller's own writes in the next listing", async () => {
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { label: 'fresh' })).status, 200);
      assert.equal((await list(g))[0]?.label, 'fresh');
      assert.equal((await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'stopped' })).status, 200);
      assert.equal((await list(g))[0]?.intended_status, 'stopped');
      await until('the listing shows the stop recorded', async () => (await list(g))[0]?.actual_status === 'stopped', 30_000);
    });

    it("an instance key sees only its own instance, from the account's listing", async () => {
      const c = await g.api('PUT', '/api/v0/asks/1001/', { image: 'none', onstart: 'sleep 300', runtype: 'ssh' });
      assert.equal(c.status, 200, c.text);
      assert.equal((await list(g)).length, 2);
      const own = await list(g, c.body.instance_api_key as string);
      assert.deepEqual(
        own.map((r) => r.id),
        [c.body.new_contract],
      );
      assert.equal((await g.api('DELETE', `/api/v0/instances/${c.body.new_contract as number}/`)).status, 200);
      await until('the destroyed instance leaves the listing', async () => (await list(g)).length === 1, 30_000);
    });
  });
}

const pg = TEST_STORES.find((s) => s.name === 'postgres');
const shared = { adminKey: 'gnt_listing_memory_admin', secret: 'listing-memory-secret', machineCacheMs: 600_000 };

describe('instance listings across two replicas on one PostgreSQL', { skip: pg?.skip ?? 'no postgres' }, () => {
  let a: TestGantry;
  let b: TestGantry;
  before(async () => {
    a = await startTestGantry(pg!, { settings: shared });
    b = await startTestGantry(pg!, { database: a.database, localHost: false, settings: shared });
    await Promise.all([a.store.changes.ready(), b.store.changes.ready()]);
  });
  after(async () => {
    await b.dispose();
    await a.dispose();
  });

  it("replica B's remembered listing follows what replica A creates, records and stops", async () => {
    assert.deepEqual(await list(b), []);
    const c = await a.api('PUT', '/api/v0/asks/1001/', { image: 'none', onstart: 'sleep 300', runtype: 'ssh' });
    assert.equal(c.status, 200, c.text);
    // B hears of it through LISTEN/NOTIFY: a bounded wait, not a timing claim.
    await until('replica B lists the new instance', async () => (await list(b)).length === 1, 15_000);
    await until('replica B shows it running', async () => (await list(b))[0]?.actual_status === 'running', 30_000);
    assert.equal((await a.api('PUT', `/api/v0/instances/${c.body.new_contract as number}/`, { state: 'stopped' })).status, 200);
    await until('replica B shows the stop asked through A', async () => (await list(b))[0]?.intended_status === 'stopped', 15_000);
  });
});
