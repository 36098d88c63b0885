import assert from 'node:assert/strict';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { LocalLimiter, SharedLimiter, type Limiter } from '../../src/api/rate-limit/limiter.js';
import { burstFor } from '../../src/domain/account/token-bucket.js';
import { KyselyStore } from '../../src/store/kysely/kysely-store.js';
import { TEST_STORES } from '../helpers/stores.js';

interface Setup {
  readonly name: string;
  readonly skip: string | false;
  /** One limiter per replica taking part. */
  open(): Promise<{ limiters: Limiter[]; close(): Promise<void> }>;
}

const SETUPS: Setup[] = [
  { name: 'local (one replica)', skip: false, open: () => Promise.resolve({ limiters: [new LocalLimiter()], close: () => Promise.resolve() }) },
  ...TEST_STORES.map((ts): Setup => ({
    name: `shared, ${ts.name === 'sqlite' ? 'one replica on SQLite' : 'three replicas on one PostgreSQL'}`,
    skip: ts.skip,
    async open() {
      const dir = await mkdtemp(join(tmpdir(), 'gantry-limiter-'));
      const location = await ts.fresh(dir);
      const stores = Array.from({ length: ts.name === 'sqlite' ? 1 : 3 }, () => new KyselyStore(ts.dialect(location)));
      await stores[0]?.migrate();
      return {
        limiters: stores.map((s) => new SharedLimiter((...a) => s.takeRateTokens(...a))),
        async close() {
          for (const s of stores) await s.close();
          await rm(dir, { recursive: true, force: true });
        },
      };
    },
  })),
];

/** Every limiter adapter, one contract: never more than burst + rate × time in total, whatever the replica count. */
for (const s of SETUPS) {
  describe(`limiter contract: ${s.name}`, { skip: s.skip }, () => {
    let env: Awaited<ReturnType<Setup['open']>>;
    before(async () => {
      env = await s.open();
    });
    after(() => env.close());

    it('grants at most burst + rate × elapsed, and about that much under steady pressure', async () => {
      const rate = 50;
      let granted = 0;
      let refused = 0;
      const start = 1_000_000;
      // 10 simulated seconds, 400 requests a second spread over the replicas.
      for (let ms = 0; ms < 10_000; ms += 10) {
        const results = await Promise.all(
          env.limiters.flatMap((l) => [Promise.resolve(l.take('k1:instances', rate, start + ms)), Promise.resolve(l.take('k1:instances', rate, start + ms))]),
        );
        for (const r of results) {
          if (r.ok) granted++;
          else {
            refused++;
            assert.ok(r.retryAfter >= 1, 'a refusal says when to come back');
          }
        }
      }
      const ceiling = burstFor(rate) + rate * 10 + env.limiters.length * Math.floor(rate / 10);
      assert.ok(granted <= ceiling, `granted ${granted} > ${ceiling}`);
      assert.ok(granted >= rate * 10 * 0.9, `granted only ${granted} of ${rate * 10}`);
      assert.ok(refused > 0);
    });

    it('buckets are per key and family: one busy key does not limit another', async () => {
      const l = env.limiters[0] as Limiter;
      for (let i = 0; i < 20; i++) await l.take('busy:search', 1, 5_000_000);
      assert.equal((await l.take('busy:search', 1, 5_000_000)).ok, false);
      assert.equal((await l.take('calm:search', 1, 5_000_000)).ok, true);
      assert.equal((await l.take('busy:instances', 1, 5_000_000)).ok, true);
    });
  });
}

/** The shared buckets' rows are forgotten once idle (one per caller address and key ever limited), and so are a replica's leases. */
for (const ts of TEST_STORES) {
  describe(`rate buckets forgotten when idle: ${ts.name}`, { skip: ts.skip }, () => {
    it('prunes buckets untouched since a time; one pruned is full again, as a new one', async () => {
      const dir = await mkdtemp(join(tmpdir(), 'gantry-limiter-'));
      const store = new KyselyStore(ts.dialect(await ts.fresh(dir)));
      try {
        await store.migrate();
        await store.takeRateTokens('old', 4, 2, 4, 1_000);
        await store.takeRateTokens('new', 4, 2, 4, 10_000);
        assert.equal(await store.pruneRateBuckets(5_000), 1);
        assert.equal(await store.pruneRateBuckets(5_000), 0);
        assert.deepEqual(await store.takeRateTokens('old', 4, 2, 4, 10_000), { granted: 4, left: 0 });
        assert.equal((await store.takeRateTokens('new', 1, 2, 4, 10_000)).granted, 0, 'the bucket still in use keeps its count');
      } finally {
        await store.close();
        await rm(dir, { recursive: true, force: true });
      }
    });
  });
}

describe("a replica's leased rate tokens", () => {
  it('are forgotten once their lease ran out: one reservoir per bucket in use, not per bucket ever used', async () => {
    const limiter = new SharedLimiter(async (_b, want) => ({ granted: want, left: 10 }), 1_000);
    for (let i = 0; i < 500; i++) await limiter.take(`ip:192.0.2.${i}`, 20, 0);
    assert.equal(limiter.buckets, 500);
    await limiter.take('key:later', 20, 5_000);
    assert.equal(limiter.buckets, 1);
  });
});
