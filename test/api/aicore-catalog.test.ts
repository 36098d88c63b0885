import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { after, before, describe, it } from 'node:test';
import { ArtifactApi, ConfigurationApi, ExecutableApi, ScenarioApi } from '@sap-ai-sdk/ai-api';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE_PG } from '../helpers/stores.js';
import { gantry } from '../helpers/cli.js';
import { chatTemplate, plainTemplate } from '../fixtures/aicore/templates.js';

const RG = { 'AI-Resource-Group': 'default' };

/** How the SDK reaches the loopback Gantry: today a Gantry key as Bearer; swap for a service-key destination once tokens exist. */
function sdkAuth(g: TestGantry) {
  return { url: g.url, headers: { authorization: `Bearer ${g.adminKey}` } };
}

/** `.execute(destination)` with our auth header on the request itself (a plain {url} destination sends none). */
async function run<T>(g: TestGantry, rb: { addCustomHeaders(h: Record<string, string>): { execute(d: { url: string }): Promise<T> } }): Promise<T> {
  const d = sdkAuth(g);
  return rb.addCustomHeaders(d.headers).execute({ url: d.url });
}

function git(cwd: string, ...args: string[]): string {
  return execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@t', '-c', 'commit.gpgsign=false', ...args], { cwd, encoding: 'utf8' });
}

for (const ts of ONE_STORE_PG) {
  describe(`aicore catalog (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let tmp: string;
    before(async () => {
      g = await startTestGantry(ts, { localHost: false });
      tmp = await mkdtemp(join(tmpdir(), 'gantry-catalog-'));
    });
    after(async () => {
      await g.dispose();
      await rm(tmp, { recursive: true, force: true });
    });
    const lm = (method: string, path: string, body?: unknown, rg: string | null = 'default') =>
      fetch(g.url + path, {
        method,
        headers: {
          authorization: `Bearer ${g.adminKey}`,
          'content-type': 'application/json',
          ...(rg !== null ? { 'ai-resource-group': rg } : {}),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      }).then(async (r) => ({ status: r.status, headers: r.headers, text: await r.text() }));
    const json = (r: { text: string }) => JSON.parse(r.text) as Record<string, any>;

    it('loads serving templates and shows them through the SDK', async () => {
      const r = await lm('POST', '/v2/admin/servingTemplates', { files: [{ name: 'templates/chat.yaml', content: chatTemplate() }] }, null);
      assert.equal(r.status, 201, r.text);
      assert.equal(json(r).count, 1);

      const scenarios = await run(g, ScenarioApi.scenarioQuery(RG));
      assert.equal(scenarios.count, 1);
      assert.equal(scenarios.resources[0]?.id, 'foundation-models');
      assert.equal(scenarios.resources[0]?.name, 'Chat');
      const one = await run(g, ScenarioApi.scenarioGet('foundation-models', RG));
      assert.equal(one.description, 'A tiny chat model');

      const exes = await run(g, ExecutableApi.executableQuery('foundation-models', {}, RG));
      assert.equal(exes.count, 1);
      const exe = await run(g, ExecutableApi.executableGet('foundation-models', 'chat-serve', RG));
      assert.equal(exe.versionId, '1.0');
      assert.equal(exe.deployable, true);
      assert.deepEqual(
        exe.parameters?.map((p) => p.name),
        ['modelName', 'modelVersion', 'greeting'],
      );
      assert.deepEqual(exe.inputArtifacts, [{ name: 'weights', kind: 'model' }]);
      assert.equal((await run(g, ExecutableApi.executableQuery('foundation-models', { versionId: '2.0' }, RG))).count, 0);

      const versions = await run(g, ScenarioApi.scenarioQueryVersions('foundation-models', {}, RG));
      assert.deepEqual(
        versions.resources.map((v) => v.id),
        ['1.0'],
      );
      const sel = await run(g, ScenarioApi.scenarioQueryVersions('foundation-models', { labelSelector: ['ext.ai.sap.com/tier=large'] }, RG));
      assert.equal(sel.count, 0);
      const models = await run(g, ScenarioApi.scenarioQueryModels('foundation-models', RG));
      assert.equal(models.resources[0]?.model, 'tiny');
    });

    it('registers artifacts and creates configurations checked against the executable', async () => {
      const art = await run(
        g,
        ArtifactApi.artifactCreate({ name: 'tiny-weights', kind: 'model', url: 'file:///models/tiny', scenarioId: 'foundation-models', description: 'w' }, RG),
      );
      assert.equal(art.message, 'Artifact acknowledged');
      assert.equal(art.url, 'file:///models/tiny');
      const arts = await run(g, ArtifactApi.artifactQuery({ kind: 'model' }, RG));
      assert.equal(arts.count, 1);
      assert.equal((await run(g, ArtifactApi.artifactGet(art.id, {}, RG))).name, 'tiny-weights');
      assert.equal(await run(g, ArtifactApi.artifactCount({}, RG)), 1);

      const created = await run(
        g,
        ConfigurationApi.configurationCreate(
          {
            name: 'tiny-chat',
            scenarioId: 'foundation-models',
            executableId: 'chat-serve',
            parameterBindings: [{ key: 'greeting', value: 'hello' }],
            inputArtifactBindings: [{ key: 'weights', artifactId: art.id }],
          },
          RG,
        ),
      );
      assert.equal(created.message, 'Configuration created');
      assert.match(created.id, /^[0-9a-f-]{36}$/);
      const got = await run(g, ConfigurationApi.configurationGet(created.id, { $expand: 'scenario' }, RG));
      assert.equal(got.name, 'tiny-chat');
      assert.equal((got.scenario as { id?: string } | null)?.id, 'foundation-models');
      const list = await run(
        g,
        ConfigurationApi.configurationQuery({ executableIds: ['chat-serve', 'other-serve'], $search: 'TINY', searchCaseInsensitive: true }, RG),
      );
      assert.equal(list.count, 1);
      assert.equal((await run(g, ConfigurationApi.configurationQuery({ $search: 'TINY' }, RG))).count, 0);
      assert.equal(await run(g, ConfigurationApi.configurationCount({ scenarioId: 'foundation-models' }, RG)), 1);

      // The deployment side's contract: what a worker made from this configuration runs.
      const r = await g.control.catalog.renderConfiguration(await g.control.authenticate(g.adminKey), 'default', created.id);
      assert.equal(r.executableId, 'chat-serve');
      assert.equal(r.template.entrypoint, '/bin/sh');
      assert.deepEqual(r.template.args, ['-c', "python serve.py --model tiny --say 'hello'"]);
      assert.equal((r.template.env as Record<string, string>).STORAGE_URI, 'file:///models/tiny');
      assert.equal((r.template.env as Record<string, string>).AICORE_ARTIFACT_WEIGHTS_PATH, '/models/tiny');
      assert.deepEqual(r.template.ports, [{ containerPort: 9001, proto: 'tcp' }]);
      assert.equal(r.template.readiness, 'http');
      assert.deepEqual(r.model, { name: 'tiny', version: '1' });
      assert.equal(r.resourcePlan, 'infer.s');
      assert.deepEqual([r.minReplicas, r.maxReplicas], [1, 3]);

      // A group that does not exist is 404 by itself; one that exists does not hold default's configurations.
      const missing = await lm('GET', `/v2/lm/configurations/${created.id}`, undefined, 'other-group');
      assert.equal(json(missing).error.code, 'RESOURCE_GROUP_NOT_FOUND');
      assert.equal((await lm('POST', '/v2/admin/resourceGroups', { resourceGroupId: 'other-group' }, null)).status, 202);
      const other = await lm('GET', `/v2/lm/configurations/${created.id}`, undefined, 'other-group');
      assert.equal(other.status, 404, other.text);
      assert.equal(json(other).error.code, 'CONFIGURATION_NOT_FOUND');
    });

    it('answers bad input with 4xx and the AI Core error body', async () => {
      const bad = async (method: string, path: string, body: unknown, status: number, match: RegExp, rg: string | null = 'default') => {
        const r = await lm(method, path, body, rg);
        assert.equal(r.status, status, `${method} ${path}: ${r.text}`);
        const e = json(r).error;
        assert.ok(typeof e.code === 'string' && typeof e.message === 'string' && e.requestId !== undefined, r.text);
        assert.match(`${e.message} ${JSON.stringify(e.details)}`, match, r.text);
      };
      const base = { name: 'c', scenarioId: 'foundation-models', executableId: 'chat-serve' };
      await bad('POST', '/v2/lm/configurations', { ...base, parameterBindings: [{ key: 'nope', value: 'x' }] }, 400, /no parameter 'nope'/);
      await bad('POST', '/v2/lm/configurations', { ...base, surprise: 1 }, 400, /surprise|additional/);
      await bad('POST', '/v2/lm/configurations', { ...base, executableId: 'missing-serve' }, 400, /missing-serve/);
      await bad('POST', '/v2/lm/configurations', { ...base, scenarioId: 'other-scen' }, 400, /belongs to scenario/);
      await bad(
        'POST',
        '/v2/lm/configurations',
        { ...base, parameterBindings: [{ key: 'greeting', value: 'x' }], inputArtifactBindings: [{ key: 'weights', artifactId: 'no-such-artifact' }] },
        400,
        /no-such-artifact/,
      );
      await bad('POST', '/v2/lm/configurations', { ...base, parameterBindings: [{ key: 'greeting', value: { a: 1 } }] }, 400, /value|string/);
      await bad('GET', '/v2/lm/configurations?$top=100001', undefined, 400, /top/);
      await bad('GET', '/v2/lm/configurations?$top=-1', undefined, 400, /top/);
      await bad('GET', '/v2/lm/configurations?$search=a~b', undefined, 400, /search/);
      await bad('GET', '/v2/lm/configurations?executableIds=ok-id,x', undefined, 400, /executableIds/);
      // An empty list is no filter, on configurations as on deployments.
      for (const path of ['/v2/lm/configurations?executableIds=', '/v2/lm/deployments?executableIds=']) {
        const all = json(await lm('GET', path.split('?')[0]!));
        assert.equal(json(await lm('GET', path)).count, all.count, path);
      }
      await bad('GET', '/v2/lm/configurations/bad%20id', undefined, 400, /configurationId|pattern/);
      await bad('GET', '/v2/lm/configurations/aaaa-bbbb', undefined, 404, /CONFIGURATION|aaaa-bbbb/);
      await bad('GET', '/v2/lm/configurations', undefined, 400, /AI-Resource-Group/, null);
      await bad('GET', '/v2/lm/scenarios/nope-scenario', undefined, 404, /nope-scenario/);
      await bad('GET', '/v2/lm/scenarios/foundation-models/executables/nope-serve', undefined, 404, /nope-serve/);
      await bad('GET', '/v2/lm/scenarios/foundation-models/versions?labelSelector=tier=x', undefined, 400, /labelSelector/);
      await bad('GET', '/v2/lm/artifacts/no-such-artifact', undefined, 404, /no-such-artifact/);
      await bad('POST', '/v2/lm/artifacts', { name: 'a', kind: 'weights', url: 'file:///x', scenarioId: 'foundation-models' }, 400, /kind/);
      await bad('POST', '/v2/lm/artifacts', { name: 'a', kind: 'model', url: 'no-scheme', scenarioId: 'foundation-models' }, 400, /url/);
      await bad(
        'POST',
        '/v2/admin/servingTemplates',
        { files: [{ name: 'templates/chat.yaml', content: chatTemplate().replace('image: "docker.io/me/chat:1.0"', 'name2: x') }] },
        400,
        /templates\/chat\.yaml: spec\.template\.spec\.predictor\.containers\[0\]\.image is required/,
        null,
      );
      const count = await lm('GET', '/v2/lm/configurations/$count');
      assert.equal(count.status, 200);
      assert.match(count.headers.get('content-type') ?? '', /^text\/plain/);
      assert.equal(count.text, '1');
    });

    it('loads templates and makes configurations with the CLI', async () => {
      const env = { ...process.env, GANTRY_URL: g.url, GANTRY_API_KEY: g.adminKey ?? '' };
      const file = join(tmp, 'cli.yaml');
      await writeFile(file, plainTemplate('cli-serve', 'cli-scen'));
      const loaded = await gantry(['create', 'serving-template', file], env);
      assert.equal(loaded.code, 0, loaded.stderr);
      assert.match(loaded.stdout, /cli-serve\s+cli-scen/);
      const shown = await gantry(['show', 'scenarios', '--raw'], env);
      assert.ok((JSON.parse(shown.stdout) as { id: string }[]).some((s) => s.id === 'cli-scen'));
      const made = await gantry(['create', 'configuration', '--name', 'cli-conf', '--executable', 'cli-serve', '--scenario', 'cli-scen', '--raw'], env);
      assert.equal(made.code, 0, made.stderr);
      assert.equal((JSON.parse(made.stdout) as { message: string }).message, 'Configuration created');
      const listed = await gantry(['show', 'configurations', '--scenario', 'cli-scen'], env);
      assert.match(listed.stdout, /cli-conf/);
      const refused = await gantry(['create', 'configuration', '--name', 'x', '--executable', 'cli-serve', '--scenario', 'cli-scen', '--param', 'nope=1'], env);
      assert.equal(refused.code, 1);
      assert.match(refused.stderr, /no parameter 'nope'/);
      await writeFile(file, 'kind: ServingTemplate\nmetadata: {name: bad-serve}\n');
      const bad = await gantry(['create', 'serving-template', file], env);
      assert.match(bad.stderr, /cli\.yaml: metadata\.labels is required/);
    });

    it('syncs an application from a folder and from a local git repository', async () => {
      const folder = join(tmp, 'folder');
      await mkdir(join(folder, 'serving'), { recursive: true });
      await writeFile(join(folder, 'serving', 'a.yaml'), plainTemplate('folder-serve', 'folder-scen'));
      await writeFile(join(folder, 'README.md'), 'not a template');
      const created = await lm('POST', '/v2/admin/applications', { applicationName: 'folder-app', repositoryUrl: folder, path: 'serving' }, null);
      assert.equal(created.status, 200, created.text);
      assert.equal(json(await lm('GET', '/v2/lm/scenarios/folder-scen/executables')).count, 1);

      const repo = join(tmp, 'repo');
      await mkdir(join(repo, 'templates'), { recursive: true });
      git(repo, 'init', '-q');
      await writeFile(join(repo, 'templates', 'one.yaml'), plainTemplate('git-one-serve', 'git-scen'));
      git(repo, 'add', '.');
      git(repo, 'commit', '-qm', 'one');
      const first = git(repo, 'rev-parse', 'HEAD').trim();
      const app = await lm(
        'POST',
        '/v2/admin/applications',
        { applicationName: 'git-app', repositoryUrl: pathToFileURL(repo).href, path: 'templates', revision: 'HEAD' },
        null,
      );
      assert.equal(app.status, 200, app.text);
      const ids = async () => (json(await lm('GET', '/v2/lm/scenarios/git-scen/executables')).resources as { id: string }[]).map((e) => e.id).sort();
      assert.deepEqual(await ids(), ['git-one-serve']);

      // A new commit replaces one template with another; uncommitted files are not read.
      await rm(join(repo, 'templates', 'one.yaml'));
      await writeFile(join(repo, 'templates', 'two.yaml'), plainTemplate('git-two-serve', 'git-scen', '2.0'));
      git(repo, 'add', '-A');
      git(repo, 'commit', '-qm', 'two');
      await writeFile(join(repo, 'templates', 'draft.yaml'), 'kind: ServingTemplate\n');
      const refreshed = await lm('POST', '/v2/admin/applications/git-app/refresh', undefined, null);
      assert.equal(refreshed.status, 202, refreshed.text);
      assert.deepEqual(await ids(), ['git-two-serve']);
      const status = json(await lm('GET', '/v2/admin/applications/git-app/status', undefined, null));
      assert.equal(status.syncStatus, 'Synced');
      assert.deepEqual(
        status.syncResourcesStatus.map((s: { name: string }) => s.name),
        ['git-two-serve'],
      );

      // An older revision, through PATCH; a bad template in a new commit fails the refresh and keeps what ran.
      assert.equal((await lm('PATCH', '/v2/admin/applications/git-app', { repositoryUrl: repo, path: 'templates', revision: first }, null)).status, 200);
      assert.deepEqual(await ids(), ['git-one-serve']);
      assert.equal((await lm('PATCH', '/v2/admin/applications/git-app', { repositoryUrl: repo, path: 'templates', revision: 'HEAD' }, null)).status, 200);
      await writeFile(join(repo, 'templates', 'two.yaml'), plainTemplate('git-two-serve', 'git-scen').replace('image: busybox', 'image: ""'));
      git(repo, 'commit', '-qam', 'broken');
      const broken = await lm('POST', '/v2/admin/applications/git-app/refresh', undefined, null);
      assert.equal(broken.status, 400, broken.text);
      assert.match(json(broken).error.message, /templates\/two\.yaml: spec\.template\.spec\.predictor\.containers\[0\]\.image is required/);
      assert.deepEqual(await ids(), ['git-two-serve']);
      assert.equal(json(await lm('GET', '/v2/admin/applications/git-app/status', undefined, null)).syncStatus, 'OutOfSync');

      const apps = json(await lm('GET', '/v2/admin/applications', undefined, null));
      assert.deepEqual(
        apps.resources.map((a: { applicationName: string }) => a.applicationName),
        ['folder-app', 'git-app'],
      );
      assert.equal(
        (await lm('POST', '/v2/admin/applications', { applicationName: 'net-app', repositoryUrl: 'https://github.com/x/y', path: '.' }, null)).status,
        400,
      );
      assert.equal(
        (await lm('POST', '/v2/admin/applications', { applicationName: 'bad-rev', repositoryUrl: repo, path: 'templates', revision: 'nope' }, null)).status,
        400,
      );
      assert.equal((await lm('POST', '/v2/admin/applications', { applicationName: 'folder-app', repositoryUrl: folder, path: 'serving' }, null)).status, 409);

      assert.equal((await lm('DELETE', '/v2/admin/applications/git-app', undefined, null)).status, 200);
      assert.deepEqual(await ids(), []);
      assert.equal((await lm('GET', '/v2/admin/applications/git-app', undefined, null)).status, 404);
    });
  });
}
