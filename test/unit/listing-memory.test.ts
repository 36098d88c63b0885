import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DummyDriver, Kysely, SqliteAdapter, SqliteIntrospector, SqliteQueryCompiler } from 'kysely';
import type { Database } from '../../src/store/kysely/schema.js';
import { changesShownInstances } from '../../src/store/kysely/write-watch.js';
import { InstanceViewCache } from '../../src/control/instances/instance-view-cache.js';
import type { InstanceView } from '../../src/control/instances/read-instances.js';
import { LocalChangeFeed } from '../../src/store/change-feed.js';

/** Statements are only compiled here, never run. */
const db = new Kysely<Database>({
  dialect: {
    createAdapter: () => new SqliteAdapter(),
    createDriver: () => new DummyDriver(),
    createIntrospector: (k) => new SqliteIntrospector(k),
    createQueryCompiler: () => new SqliteQueryCompiler(),
  },
});

describe('which writes change what an instance listing shows', () => {
  it('an instance column shown in listings, ports, GPUs and volume links do', () => {
    assert.ok(changesShownInstances(db.updateTable('instances').set({ label: 'x' }).where('id', '=', 1).toOperationNode()));
    assert.ok(changesShownInstances(db.updateTable('instances').set({ status: 'running', last_processed_at: 1 }).toOperationNode()));
    assert.ok(changesShownInstances(db.deleteFrom('port_allocations').where('instance_id', '=', 1).toOperationNode()));
    assert.ok(changesShownInstances(db.deleteFrom('gpu_allocations').where('instance_id', '=', 1).toOperationNode()));
    assert.ok(changesShownInstances(db.insertInto('instance_volumes').values({ instance_id: 1, volume_id: 2, mount_path: '/v' }).toOperationNode()));
  });

  it("the reconciler's leases and stamps, billing meters, reads and other tables do not", () => {
    assert.ok(!changesShownInstances(db.updateTable('instances').set({ lease_owner: null, lease_token: null, last_processed_at: 5 }).toOperationNode()));
    assert.ok(!changesShownInstances(db.updateTable('instances').set({ gpu_meter_since: 5 }).toOperationNode()));
    assert.ok(!changesShownInstances(db.updateTable('machines').set({ listed: 1 }).toOperationNode()));
    assert.ok(!changesShownInstances(db.updateTable('instance_usage').set({ cpu_util: 1 }).toOperationNode()));
    assert.ok(!changesShownInstances(db.selectFrom('instances').selectAll().toOperationNode()));
  });
});

describe('InstanceViewCache', () => {
  const view = (id: number): InstanceView => ({ instance: { id } as InstanceView['instance'], machine: undefined, usage: null, volumes: [] });

  function setup(maxAgeMs = 1000) {
    let now = 0;
    let reads = 0;
    const writes = new Set<() => void>();
    const changes = new LocalChangeFeed();
    const cache = new InstanceViewCache({
      build: async (accountId) => {
        reads++;
        return [view(accountId * 100 + reads)];
      },
      now: () => now,
      maxAgeMs,
      maxEntries: 2,
    });
    cache.follow({
      changes,
      onShownInstancesWrite: (f) => {
        writes.add(f);
        return () => writes.delete(f);
      },
    });
    return {
      cache,
      changes,
      reads: () => reads,
      write: () => writes.forEach((f) => f()),
      advance: (ms: number) => (now += ms),
    };
  }

  it('keeps one listing per account until a write, a published change or its age drops it', async () => {
    const t = setup();
    const first = await t.cache.get(1);
    assert.equal(await t.cache.get(1), first, 'the same array');
    assert.equal(t.reads(), 1);
    t.write();
    assert.notEqual(await t.cache.get(1), first);
    assert.equal(t.reads(), 2);
    t.changes.publish('instance-status', 7);
    await new Promise((r) => setImmediate(r));
    await t.cache.get(1);
    assert.equal(t.reads(), 3);
    t.advance(1000);
    await t.cache.get(1);
    assert.equal(t.reads(), 4, 'usage figures are bounded by age');
  });

  it('a write during a read drops that read: the next caller reads again', async () => {
    const t = setup();
    const pending = t.cache.get(1);
    t.write();
    await pending;
    await t.cache.get(1);
    assert.equal(t.reads(), 2);
  });

  it('is bounded by accounts and does not remember a failed read', async () => {
    const t = setup();
    await t.cache.get(1);
    await t.cache.get(2);
    await t.cache.get(3);
    await t.cache.get(1);
    assert.equal(t.reads(), 4, 'the oldest account was let go');
    let fail = true;
    const c = new InstanceViewCache({
      build: async () => {
        if (fail) throw new Error('db down');
        return [];
      },
      now: () => 0,
      maxAgeMs: 1000,
      maxEntries: 10,
    });
    await assert.rejects(c.get(1), /db down/);
    fail = false;
    assert.deepEqual(await c.get(1), []);
  });
});
