import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';
import { assertNothingOfAChanged, isDataPath, MARK, probedRoutes, setUpTenantA, type TenantA } from '../helpers/tenant-a.js';

/**
 * Tenant B probes every route the app serves with tenant A's ids and names. Each call naming one of A's
 * resources answers 404 (existence is not leaked, never 403); no answer carries A's data; nothing of A's
 * changes; and no probe causes a 5xx. (A's own restricted keys probe the same routes in scoped-keys-probe.test.ts.)
 */
for (const ts of TEST_STORES) {
  describe(`cross-tenant probe of every route (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let t: TenantA;

    before(async () => {
      g = await startTestGantry(ts);
      t = await setUpTenantA(g);
    });
    after(() => g.dispose());

    it('every route: 404 for what names A, no data of A in any answer, never a 5xx', async () => {
      const leaks: string[] = [];
      for (const r of probedRoutes(g, t.ids)) {
        const res = await t.b(r.method, r.path, r.body);
        const where = `${r.method} ${r.path} → ${res.status}`;
        assert.ok(res.status < 500, `${where}: ${res.text}`);
        if (res.text.includes(MARK)) leaks.push(`${where}: ${res.text.slice(0, 200)}`);
        // Admin-only calls answer 403 for every id alike, which tells nothing about A.
        const namesA = r.params.length > 0 && !r.url.startsWith('/api/v0/asks') && res.body?.code !== 'ADMIN_ONLY';
        if (namesA) assert.equal(res.status, r.url.startsWith('/endpoints/') ? res.status : 404, `${where}: ${res.text}`);
        if (isDataPath(r.url)) assert.ok(res.status >= 400, `${where} must not serve A's endpoint`);
      }
      assert.deepEqual(leaks, []);
    });

    it("nothing of A's changed", () => assertNothingOfAChanged(t));
  });
}
