import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { idleTemplate } from '../fixtures/aicore/bulk-templates.js';
import { lm } from '../helpers/aicore.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';

type Answer = { status: number; body: any; text: string };

/** A 400 in AI Core's error shape with this code. */
function refused(r: Answer, code: string, what: string): void {
  assert.equal(r.status, 400, `${what}: ${r.text}`);
  assert.equal(r.body.error?.code, code, `${what}: ${r.text}`);
  assert.equal(typeof r.body.error?.requestId, 'string', `${what}: ${r.text}`);
}

const label = (i: number, value = 'v') => ({ key: `ext.ai.sap.com/l${i}`, value });
const labels = (n: number, value = 'v') => Array.from({ length: n }, (_, i) => label(i, value));
const artifact = (name: string, extra: Record<string, unknown> = {}) => ({ name, kind: 'model', url: 'file:///models/x', scenarioId: 'bulk-test', ...extra });
const configuration = (name: string) => ({ name, scenarioId: 'bulk-test', executableId: 'idle-a', parameterBindings: [], inputArtifactBindings: [] });
const templates = (...ids: string[]) => ({ files: ids.map((id) => ({ name: `${id}.yaml`, content: idleTemplate(id) })) });

/**
 * What one account can make AI Core's catalog hold. A tester registered 200 artifacts of 170 labels of
 * 5 KB each (about 860 KB apiece): one GET of the list took the server from 198 MB to 1.04 GB. Labels
 * are now bounded in count and in size, and resource groups, configurations, artifacts and executables
 * in number per account (an admin is not bound), as endpoints and keys are.
 */
for (const ts of ONE_STORE)
  describe(`AI Core catalog bounds (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let key: string;
    const call = (method: string, path: string, body?: unknown, o?: { group?: string | null }) => lm(g, key, method, path, body, o);
    const asAdmin = (method: string, path: string, body?: unknown, o?: { group?: string | null }) => lm(g, g.adminKey as string, method, path, body, o);

    before(async () => {
      g = await startTestGantry(ts, {
        localHost: false,
        settings: { maxResourceGroupsPerAccount: 2, maxConfigurationsPerAccount: 2, maxArtifactsPerAccount: 2, maxExecutablesPerAccount: 2 },
      });
      const u = await g.api('POST', '/api/v0/users/', { username: 'cataloguer', credit: 10 });
      assert.equal(u.status, 200, u.text);
      key = u.body.api_key as string;
    });
    after(() => g.dispose());

    it('a malformed AI-Resource-Group header is quoted cut short, not echoed whole', async () => {
      const r = await call('GET', '/v2/lm/artifacts', undefined, { group: `bad!${'x'.repeat(10_000)}` });
      assert.equal(r.status, 400, r.text.slice(0, 300));
      assert.equal(r.body.error.code, 'INVALID_ARGUMENT');
      assert.ok(r.text.length < 1000, `${r.text.length} characters`);
      assert.match(r.body.error.message, /^AI-Resource-Group "bad!x+…/);
    });

    it('labels: at most 50, and 32,768 characters of keys and values together (artifacts and resource groups)', async () => {
      refused(await call('POST', '/v2/lm/artifacts', artifact('many', { labels: labels(51) })), 'INVALID_ARGUMENT', 'artifact, 51 labels');
      refused(await call('POST', '/v2/lm/artifacts', artifact('long', { labels: labels(7, 'x'.repeat(5000)) })), 'INVALID_ARGUMENT', 'artifact, 35 KB');
      refused(await call('POST', '/v2/admin/resourceGroups', { resourceGroupId: 'rg-many', labels: labels(51) }, { group: null }), 'INVALID_ARGUMENT', 'group');
      const long = await call('PATCH', '/v2/admin/resourceGroups/default', { labels: labels(7, 'x'.repeat(5000)) }, { group: null });
      refused(long, 'INVALID_ARGUMENT', 'relabel, 35 KB');
      assert.equal((await call('PATCH', '/v2/admin/resourceGroups/default', { labels: labels(50, 'x'.repeat(600)) }, { group: null })).status, 202);
      // Nothing refused was stored.
      assert.equal((await call('GET', '/v2/lm/artifacts/$count')).text, '0');
    });

    it('resource groups: at most maxResourceGroupsPerAccount besides default; a delete frees a place', async () => {
      for (const id of ['rg-a', 'rg-b']) assert.equal((await call('POST', '/v2/admin/resourceGroups', { resourceGroupId: id }, { group: null })).status, 202);
      refused(await call('POST', '/v2/admin/resourceGroups', { resourceGroupId: 'rg-c' }, { group: null }), 'RESOURCE_GROUP_LIMIT', 'third group');
      refused(await call('POST', '/v2/admin/serviceKeys', { resourceGroup: 'rg-c' }, { group: null }), 'RESOURCE_GROUP_LIMIT', 'a key for a new group');
      assert.equal((await call('POST', '/v2/admin/serviceKeys', { resourceGroup: 'rg-a' }, { group: null })).status, 201, 'a key for a group it has');
      assert.equal((await call('DELETE', '/v2/admin/resourceGroups/rg-b', undefined, { group: null })).status, 202);
      assert.equal((await call('POST', '/v2/admin/resourceGroups', { resourceGroupId: 'rg-c' }, { group: null })).status, 202);
      for (const id of ['adm-a', 'adm-b', 'adm-c'])
        assert.equal((await asAdmin('POST', '/v2/admin/resourceGroups', { resourceGroupId: id }, { group: null })).status, 202, 'an admin is not bound');
    });

    it('executables: a load past maxExecutablesPerAccount stores none of its templates; a replacement takes no more room', async () => {
      assert.equal((await call('POST', '/v2/admin/servingTemplates', templates('idle-a', 'idle-b'), { group: null })).status, 201);
      refused(await call('POST', '/v2/admin/servingTemplates', templates('idle-a', 'idle-c'), { group: null }), 'EXECUTABLE_LIMIT', 'a third');
      const exes = await call('GET', '/v2/lm/scenarios/bulk-test/executables');
      assert.deepEqual(exes.body.resources.map((e: { id: string }) => e.id).sort(), ['idle-a', 'idle-b']);
      assert.equal((await call('POST', '/v2/admin/servingTemplates', templates('idle-b', 'idle-a'), { group: null })).status, 201);
      assert.equal((await asAdmin('POST', '/v2/admin/servingTemplates', templates('idle-a', 'idle-b', 'idle-c'), { group: null })).status, 201);
    });

    it('configurations and artifacts: at most their bound per account, over all its resource groups', async () => {
      assert.equal((await call('POST', '/v2/lm/configurations', configuration('one'))).status, 201);
      assert.equal((await call('POST', '/v2/lm/configurations', configuration('two'), { group: 'rg-a' })).status, 201);
      refused(await call('POST', '/v2/lm/configurations', configuration('three'), { group: 'rg-c' }), 'CONFIGURATION_LIMIT', 'third configuration');

      assert.equal((await call('POST', '/v2/lm/artifacts', artifact('one', { labels: labels(50, 'x'.repeat(600)) }))).status, 201);
      assert.equal((await call('POST', '/v2/lm/artifacts', artifact('two'), { group: 'rg-a' })).status, 201);
      refused(await call('POST', '/v2/lm/artifacts', artifact('three'), { group: 'rg-c' }), 'ARTIFACT_LIMIT', 'third artifact');
      assert.equal((await call('GET', '/v2/lm/artifacts/$count')).text, '1');

      await asAdmin('POST', '/v2/admin/servingTemplates', templates('idle-a'), { group: null });
      for (const name of ['a', 'b', 'c']) {
        assert.equal((await asAdmin('POST', '/v2/lm/artifacts', artifact(name))).status, 201, 'an admin is not bound');
        assert.equal((await asAdmin('POST', '/v2/lm/configurations', configuration(name))).status, 201, 'an admin is not bound');
      }
    });
  });
