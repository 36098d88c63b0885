import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/** Over the limit, Vast's 429: `detail` with the threshold, and Retry-After; per key and family; 0 disables a family. */
for (const ts of TEST_STORES) {
  describe(`rate limits (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, { settings: { rateLimit: 2, rateLimits: 'billing=0' } });
      // A key draws from a bucket of its own once it has authenticated (until then, from its address's).
      assert.equal((await g.api('GET', '/api/v0/users/current/')).status, 200);
    });
    after(() => g.dispose());

    it('answers 429 with the threshold and Retry-After once the bucket is empty', async () => {
      const rs = await Promise.all(Array.from({ length: 12 }, () => g.api('GET', '/api/v0/instances/')));
      assert.ok(rs.filter((r) => r.status === 200).length >= 4, 'the burst passes');
      // On a busy machine the bucket refills while the burst is served: keep asking until it is empty.
      let limited = rs.filter((r) => r.status === 429);
      while (limited.length === 0) limited = [await g.api('GET', '/api/v0/instances/')].filter((r) => r.status === 429);
      const r = limited[0];
      assert.equal(r?.body.detail, 'API requests too frequent endpoint threshold=2.0');
      assert.equal(r?.body.error, 'rate_limited');
      assert.equal(r?.contentType, 'application/json');
      assert.ok(Number(r?.headers.get('retry-after')) >= 1);
    });

    it('another family, another key, and a family set to 0 are not limited by it', async () => {
      assert.equal((await g.api('GET', '/api/v0/users/current/')).status, 200, 'the account family has its own bucket');
      const user = (await g.api('POST', '/api/v0/users/', { username: 'calm' })).body;
      assert.equal((await g.api('GET', '/api/v0/instances/', undefined, { key: user.api_key })).status, 200, 'another key has its own bucket');
      const billing = await Promise.all(Array.from({ length: 12 }, () => g.api('GET', '/api/v0/charges/')));
      assert.ok(billing.every((b) => b.status === 200));
      // /route/ (one call per request of Vast's serverless clients) defaults to ten times rateLimit.
      const routed = await Promise.all(Array.from({ length: 24 }, () => g.api('POST', '/route/', { endpoint: 'none', cost: 1 })));
      assert.deepEqual(routed.filter((r) => r.status === 429).length, 0, JSON.stringify(routed.map((r) => r.status)));
    });

    it('a client that waits Retry-After gets through', async () => {
      let r = await g.api('GET', '/api/v0/instances/');
      while (r.status !== 429) r = await g.api('GET', '/api/v0/instances/');
      await new Promise((res) => setTimeout(res, Number(r.headers.get('retry-after')) * 1000));
      assert.equal((await g.api('GET', '/api/v0/instances/')).status, 200);
    });
  });
}
