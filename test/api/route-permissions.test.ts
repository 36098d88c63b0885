import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { routesOf } from '../../src/api/app.js';
import { PERMISSION_CATEGORIES, type PermissionCategory } from '../../src/domain/account/permissions.js';
import { startTestGantry, type ApiResponse, type TestGantry } from '../helpers/gantry.js';
import { ROUTE_SCOPES } from '../helpers/route-scopes.js';
import { ONE_STORE } from '../helpers/stores.js';
import { probedRoutes, setUpTenantA, type ProbedRoute, type TenantA } from '../helpers/tenant-a.js';

/**
 * Every route the app serves, called with one key per permission category (a key allowed only that
 * category): a route whose category (the reviewed table in test/helpers/route-scopes.ts) is another
 * is refused with 403 PERMISSION_MISSING in its dialect's shape; a route of the key's own category is
 * not refused for a permission. A route missing from the table fails the first test, so a new route
 * must be classified. (test/api/scoped-keys-probe.test.ts probes instance keys and keys constrained
 * to ids; this one, whole categories. The keys' calls change A's things: the assertions allow for it.)
 */

/** The bulk instance calls answer 200 with one result per id, each refused item carrying its code. */
const BULK = new Set(['PUT /api/v0/instances', 'DELETE /api/v0/instances']);

/** Methods the probes do not send (the proxies' handler is the one the other methods reach). */
const UNPROBED = /^(OPTIONS|TRACE|QUERY) /;

const codeOf = (res: ApiResponse): unknown => res.body?.code ?? res.body?.error?.code;

/** A refusal for the missing permission, in the shape of the route's dialect. */
function refusal(r: ProbedRoute, res: ApiResponse): string | null {
  const where = `${r.route} → ${res.status}: ${res.text.slice(0, 160)}`;
  if (BULK.has(r.route)) {
    const results = (res.body?.results ?? []) as { success: boolean; error?: string }[];
    const ok = res.status === 200 && results.length > 0 && results.every((x) => !x.success && x.error === 'PERMISSION_MISSING');
    return ok ? null : `want every item refused with PERMISSION_MISSING: ${where}`;
  }
  if (res.status !== 403 || codeOf(res) !== 'PERMISSION_MISSING') return `want 403 PERMISSION_MISSING: ${where}`;
  if (r.url.startsWith('/v2/')) return typeof res.body?.error?.message === 'string' ? null : `want AI Core's error body: ${where}`;
  if (r.url.startsWith('/console/api/')) return typeof res.body?.error?.message === 'string' ? null : `want the console's error body: ${where}`;
  if (r.url.startsWith('/_ml/') || r.url.startsWith('/_ingest/'))
    return res.body?.error?.type === 'security_exception' && res.body?.status === 403 ? null : `want Elasticsearch's error body: ${where}`;
  return res.body?.success === false && res.body?.error === 'missing_permissions' ? null : `want Vast's error body: ${where}`;
}

/** Not refused for a permission (another answer, even an error of the call itself, is fine: A's things change as the probes go). */
function admitted(r: ProbedRoute, res: ApiResponse): string | null {
  const where = `${r.route} → ${res.status}: ${res.text.slice(0, 160)}`;
  if (res.status === 500) return `500: ${where}`;
  if (codeOf(res) === 'PERMISSION_MISSING') return `refused though the key holds the route's category: ${where}`;
  const results = (res.body?.results ?? []) as { error?: string }[];
  if (BULK.has(r.route) && Array.isArray(results) && results.some((x) => x.error === 'PERMISSION_MISSING')) return `an item refused: ${where}`;
  return null;
}

for (const ts of ONE_STORE) {
  describe(`one key per permission category, on every route (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let t: TenantA;
    const keys = new Map<PermissionCategory, string>();

    before(async () => {
      // A call to an endpoint with no worker is answered when its queue time runs out.
      g = await startTestGantry(ts, { settings: { serverlessQueueTimeoutMs: 200 } });
      t = await setUpTenantA(g);
      for (const c of PERMISSION_CATEGORIES) {
        const k = await t.a('POST', '/api/v0/auth/apikeys/', { name: `only ${c}`, permissions: { api: { [c]: {} } } });
        assert.equal(k.status, 200, k.text);
        keys.set(c, k.body.key as string);
      }
    });
    after(() => g.dispose());

    it('every route the app serves is in the reviewed table, and the table names no other', () => {
      const served = new Set(routesOf(g.app).map((r) => `${r.method} ${r.url}`));
      assert.deepEqual(
        [...served].filter((r) => !(r in ROUTE_SCOPES)),
        [],
        'routes to classify in test/helpers/route-scopes.ts (and docs/permissions.md)',
      );
      assert.deepEqual(
        Object.keys(ROUTE_SCOPES).filter((r) => !served.has(r)),
        [],
        'routes no longer served',
      );
      // The probes skip exactly the routes the table puts outside the key model (and the methods they do not send).
      const probed = new Set(probedRoutes(g, t.ids).map((r) => r.route));
      const outside = Object.entries(ROUTE_SCOPES)
        .filter(([r, need]) => typeof need === 'object' && !UNPROBED.test(r))
        .map(([r]) => r);
      assert.deepEqual(
        outside.filter((r) => probed.has(r)),
        [],
      );
      assert.deepEqual(
        [...served].filter((r) => !probed.has(r) && !UNPROBED.test(r) && typeof ROUTE_SCOPES[r] === 'string'),
        [],
      );
    });

    it('docs/permissions.md shows the same table', () => {
      const doc = readFileSync(fileURLToPath(new URL('../../../docs/permissions.md', import.meta.url)), 'utf8');
      const rows = new Map([...doc.matchAll(/^\| `([A-Z]+ [^`]+)` \| (.+) \|$/gm)].map((m) => [m[1] as string, m[2] as string]));
      const want = new Map(Object.entries(ROUTE_SCOPES).map(([r, need]) => [r, typeof need === 'string' ? `\`${need}\`` : `none: ${need.outside}`]));
      assert.deepEqual(rows, want);
    });

    for (const c of PERMISSION_CATEGORIES) {
      it(`a key allowed only ${c}: every route of another category refused, its own admitted`, async () => {
        const call = t.as(keys.get(c) as string);
        const problems: string[] = [];
        for (const r of probedRoutes(g, t.ids)) {
          const res = await call(r.method, r.path, r.body);
          const m = ROUTE_SCOPES[r.route] === c ? admitted(r, res) : refusal(r, res);
          if (m !== null) problems.push(m);
        }
        assert.deepEqual(problems, []);
      });
    }
  });
}
