import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';
import { assertNothingOfAChanged, isDataPath, MARK, probedRoutes, setUpTenantA, type Call, type TenantA } from '../helpers/tenant-a.js';

/**
 * Elasticsearch's creates name the new resource, in the caller's own namespace: B's PUT of A's model or pipeline name
 * makes B's own (checked below), after which B's calls on that name would be about B's. Probed on their own.
 */
const CREATES_BY_NAME = new Set(['PUT /_ml/trained_models/:model_id', 'PUT /_ingest/pipeline/:id']);

/**
 * Tenant B probes every route the app serves with tenant A's ids and names. Each call naming one of A's
 * resources answers 404 (existence is not leaked, never 403); no answer carries A's data; nothing of A's
 * changes; and no probe causes a 5xx. (A's own restricted keys probe the same routes in scoped-keys-probe.test.ts.)
 * AI Core calls are made twice: in A's resource group (which B does not have) and in B's own `default`.
 */
// Authorization is the subject, not the store (its queries are the store contract suite's, run on both): one store.
for (const ts of ONE_STORE) {
  describe(`cross-tenant probe of every route (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let t: TenantA;
    let bobKey: string;

    before(async () => {
      g = await startTestGantry(ts);
      t = await setUpTenantA(g);
      bobKey = (await g.api('POST', '/api/v0/users/', { username: 'bob-2', credit: 100 })).body.api_key;
    });
    after(() => g.dispose());

    async function probeAs(b: Call, only: (url: string) => boolean = () => true): Promise<void> {
      const leaks: string[] = [];
      for (const r of probedRoutes(g, t.ids).filter((x) => only(x.url) && !CREATES_BY_NAME.has(x.route))) {
        const res = await b(r.method, r.path, r.body);
        const where = `${r.method} ${r.path} → ${res.status}`;
        assert.ok(res.status < 500, `${where}: ${res.text}`);
        if (res.text.includes(MARK)) leaks.push(`${where}: ${res.text.slice(0, 200)}`);
        // Admin-only calls answer 403 for every id alike, which tells nothing about A.
        const namesA = r.params.length > 0 && !r.url.startsWith('/api/v0/asks') && (res.body?.code ?? res.body?.error?.code) !== 'ADMIN_ONLY';
        // Elasticsearch's stop answers an unknown id with 200 (allow_no_match defaults to true).
        const sameAsUnknown = (r.method === 'GET' && r.url.startsWith('/v2/')) || r.url.endsWith('/deployment/_stop');
        if (namesA && res.status !== 404 && sameAsUnknown) {
          // A listing under an id B does not have may answer empty, as for any unknown id: the same answer as for a made-up one tells nothing about A.
          const made = await b(r.method, r.url.replace(/:(\w+)/g, 'no-such-id'), r.body);
          assert.deepEqual([res.status, res.body], [made.status, made.body], `${where}: ${res.text} (made-up id: ${made.text})`);
        } else if (namesA) assert.equal(res.status, r.url.startsWith('/endpoints/') ? res.status : 404, `${where}: ${res.text}`);
        if (isDataPath(r.url)) assert.ok(res.status >= 400, `${where} must not serve A's endpoint`);
        // A's AI Core deployment named in B's bulk change: that item is refused as not found, nothing applied.
        if (r.route === 'PATCH /v2/lm/deployments' && res.status < 300) {
          const items = res.body.deployments as { id: string; error?: { code: string } }[];
          assert.deepEqual(
            items.map((x) => [x.id, x.error?.code]),
            [[t.ids.aicoreDeployment, 'DEPLOYMENT_NOT_FOUND']],
            where,
          );
        }
      }
      assert.deepEqual(leaks, []);
    }

    it('every route: 404 for what names A, no data of A in any answer, never a 5xx', () => probeAs(t.b));
    it("nothing of A's changed", () => assertNothingOfAChanged(t));

    it("B's create of A's model and pipeline names makes B's own; A's stay A's", async () => {
      for (const r of probedRoutes(g, t.ids).filter((x) => CREATES_BY_NAME.has(x.route))) {
        const res = await t.b(r.method, r.path, r.body);
        assert.equal(res.status, 200, `${r.method} ${r.path}: ${res.text}`);
        assert.ok(!res.text.includes(MARK), res.text);
      }
      const mine = await t.b('GET', `/_ml/trained_models/${t.ids.model}`);
      assert.equal(mine.body.trained_model_configs[0].description, undefined);
      await assertNothingOfAChanged(t);
    });

    it("AI Core routes in B's own default group: the same", () => probeAs(t.as(bobKey, 'default'), (url) => url.startsWith('/v2/')));
    it("nothing of A's changed (B's own group)", () => assertNothingOfAChanged(t));

    it("B loads a serving template with A's scenario and executable ids: B gets its own, A's stay A's", async () => {
      const b = t.as(bobKey, 'default');
      const yaml = (await t.a('GET', `/v2/lm/scenarios/${t.ids.scenario}/executables/${t.ids.executable}`)).body;
      assert.equal(yaml.id, t.ids.executable);
      const content = `kind: ServingTemplate\nmetadata:\n  name: ${t.ids.executable}\n  labels:\n    scenarios.ai.sap.com/id: ${t.ids.scenario}\n    ai.sap.com/version: "9.9"\nspec:\n  template:\n    spec: |\n      predictor:\n        containers:\n        - name: c\n          image: y\n`;
      const r = await b('POST', '/v2/admin/servingTemplates', { files: [{ name: 'b.yaml', content }] });
      assert.equal(r.status, 201, r.text);
      const mine = await b('GET', `/v2/lm/scenarios/${t.ids.scenario}/executables/${t.ids.executable}`);
      assert.equal(mine.status, 200, mine.text);
      assert.equal(mine.body.versionId, '9.9');
      assert.ok(!mine.text.includes(MARK), mine.text);
      // B's configuration of B's executable of that name cannot reach A's deployment either.
      const conf = await b('POST', '/v2/lm/configurations', { name: 'b-conf', executableId: t.ids.executable, scenarioId: t.ids.scenario });
      assert.equal(conf.status, 201, conf.text);
      const patched = await b('PATCH', `/v2/lm/deployments/${t.ids.aicoreDeployment}`, { configurationId: conf.body.id });
      assert.equal(patched.status, 404, patched.text);
    });
    it("nothing of A's changed (B's template of the same ids)", () => assertNothingOfAChanged(t));
  });
}
