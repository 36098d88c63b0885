import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry, type ApiResponse } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Issue 14: a fresh random key per request must not buy a fresh burst. Requests without a proven key
 * draw from their address's bucket; a key that has authenticated draws from its own.
 */
for (const ts of TEST_STORES) {
  describe(`rate limits for unproven keys (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      g = await startTestGantry(ts, { localHost: false, settings: { rateLimit: 5 } });
    });
    after(() => g.dispose());

    it('500 requests with random bogus keys from one address are answered 429; a proven key on that address still gets through', async () => {
      // The real key authenticates once before the flood, so it has a bucket of its own.
      assert.equal((await g.api('GET', '/api/v0/instances/')).status, 200);
      const answers: ApiResponse[] = [];
      const started = performance.now();
      for (let batch = 0; batch < 10; batch++) {
        const bogus = () => g.api('GET', '/api/v0/instances/', undefined, { key: `gnt_${randomBytes(16).toString('hex')}` });
        answers.push(...(await Promise.all(Array.from({ length: 50 }, bogus))));
      }
      const limited = answers.filter((r) => r.status === 429);
      assert.ok(
        answers.every((r) => r.status === 401 || r.status === 429),
        `only 401 and 429: ${[...new Set(answers.map((r) => r.status))].join(',')}`,
      );
      // The address's bucket admits at most its burst (10) plus 5 a second to authentication, however long the flood took.
      const seconds = (performance.now() - started) / 1000;
      const refused = answers.length - limited.length;
      assert.ok(
        limited.length > 0 && refused <= 10 + 5 * Math.ceil(seconds) + 5,
        `${refused} bogus requests reached authentication in ${seconds.toFixed(1)} s`,
      );
      const r = limited[0];
      assert.equal(r?.body.error, 'rate_limited');
      assert.equal(r?.body.detail, 'API requests too frequent endpoint threshold=5.0');
      assert.ok(Number(r?.headers.get('retry-after')) >= 1);
      assert.equal((await g.api('GET', '/api/v0/instances/')).status, 200, 'the proven key draws from its own bucket');
    });

    it('a request without any key draws from the same address bucket', async () => {
      let r = await g.api('GET', '/api/v0/instances/', undefined, { key: null });
      while (r.status === 401) r = await g.api('GET', '/api/v0/instances/', undefined, { key: null });
      assert.equal(r.status, 429);
    });
  });
}
