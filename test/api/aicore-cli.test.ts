import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { lm } from '../helpers/aicore.js';
import { gantry } from '../helpers/cli.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ONE_STORE } from '../helpers/stores.js';
import { servingTemplate } from '../fixtures/aicore/templates.js';

/** A template whose deployments hold no worker until a request comes (minReplicas 0): stop and delete need no running process. */
const IDLE_TEMPLATE = servingTemplate({
  id: 'idle-serve',
  scenario: 'idle-scn',
  annotations: { 'scenarios.ai.sap.com/name': 'Idle' },
  params: { modelName: 'tiny', modelVersion: '3' },
  minReplicas: 0,
});

/** `gantry aicore ...` run as a user runs it, against a loopback Gantry. */
for (const ts of ONE_STORE) {
  describe(`gantry aicore deployment verbs (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let env: NodeJS.ProcessEnv;
    let key: string;
    let configId: string;
    const cli = async (...args: string[]) => {
      const r = await gantry(['aicore', ...args], env);
      return r;
    };
    const deploy = async (group = 'default'): Promise<string> => {
      const r = await cli('deploy', '--configuration', configId, '--ttl', '1d', '--resource-group', group, '--raw');
      assert.equal(r.code, 0, r.stderr);
      const body = JSON.parse(r.stdout);
      assert.equal(body.message, 'Deployment scheduled.');
      assert.equal(body.ttl, '1d');
      assert.match(body.id, /^[0-9a-f]{16}$/);
      return body.id;
    };
    const statusOf = async (uid: string): Promise<string> => (await lm(g, key, 'GET', `/v2/lm/deployments/${uid}`)).body.status;

    before(async () => {
      g = await startTestGantry(ts, { localHost: false });
      const u = await g.api('POST', '/api/v0/users/', { username: 'cli-sapper', credit: 100 });
      key = u.body.api_key;
      env = { ...process.env, GANTRY_URL: g.url, GANTRY_API_KEY: key };
      const t = await lm(g, key, 'POST', '/v2/admin/servingTemplates', { files: [{ name: 'idle.yaml', content: IDLE_TEMPLATE }] }, { group: null });
      assert.equal(t.status, 201, t.text);
      const c = await lm(g, key, 'POST', '/v2/lm/configurations', { name: 'idle-conf', executableId: 'idle-serve', scenarioId: 'idle-scn' });
      assert.equal(c.status, 201, c.text);
      configId = c.body.id;
    });
    after(() => g.dispose());

    it('the aicore group names its verbs and points at the catalog verbs', async () => {
      const r = await gantry(['aicore', '--help'], env);
      assert.equal(r.code, 0, r.stderr);
      for (const verb of ['deployments', 'deploy', 'show', 'stop', 'delete', 'logs', 'create serving-template', 'show configurations'])
        assert.ok(r.stdout.includes(verb), verb);
    });

    it('deploy, list (table and --raw), show, logs', async () => {
      const uid = await deploy();
      const list = await cli('deployments');
      assert.equal(list.code, 0, list.stderr);
      const [head, ...rows] = list.stdout.trimEnd().split('\n');
      assert.match(head ?? '', /^ID\s+Status\s+Target\s+Configuration\s+Model\s+TTL\s+URL$/);
      const row = rows.find((l) => l.startsWith(uid));
      assert.ok(row !== undefined, list.stdout);
      assert.match(row, /RUNNING|PENDING|UNKNOWN/);
      assert.ok(row.includes(`idle-conf (${configId})`), row);
      assert.ok(row.includes('tiny:3'), row);
      assert.ok(row.includes('1d'), row);

      const raw = await cli('deployments', '--raw');
      assert.equal(raw.code, 0, raw.stderr);
      const rowsRaw = JSON.parse(raw.stdout) as { id: string; configurationId: string }[];
      assert.deepEqual(
        rowsRaw.map((d) => [d.id, d.configurationId]),
        [[uid, configId]],
      );
      const none = await cli('deployments', '--status', 'stopped', '--raw');
      assert.deepEqual(JSON.parse(none.stdout), []);

      const shown = await cli('show', 'deployment', uid, '--raw');
      assert.equal(shown.code, 0, shown.stderr);
      const d = JSON.parse(shown.stdout);
      assert.equal(d.id, uid);
      assert.equal(d.targetStatus, 'RUNNING');
      assert.ok('statusDetails' in d);

      const logs = await cli('logs', uid, '--top', '5', '--raw');
      assert.equal(logs.code, 0, logs.stderr);
      assert.ok(Array.isArray(JSON.parse(logs.stdout)));
      const badTop = await cli('logs', uid, '--top', '0');
      assert.notEqual(badTop.code, 0);
      assert.match(badTop.stderr, /\$top/);

      // Another resource group holds none of them; an unknown one is an error.
      const other = await cli('deployments', '--resource-group', 'nobody-here', '--raw');
      assert.notEqual(other.code, 0);
      const missing = await cli('show', 'deployment', '0123456789abcdef');
      assert.notEqual(missing.code, 0);
      assert.match(missing.stderr, /^error: /);
    });

    it('stop and delete one deployment (single calls)', async () => {
      const uid = await deploy();
      const stop = await cli('stop', 'deployment', uid);
      assert.equal(stop.code, 0, stop.stderr);
      assert.equal(stop.stdout, `${uid}: Deployment modification scheduled\n`);
      await until(async () => (await statusOf(uid)) === 'STOPPED');
      const del = await cli('delete', 'deployment', uid, '--raw');
      assert.equal(del.code, 0, del.stderr);
      assert.equal(JSON.parse(del.stdout).message, 'Deployment deletion scheduled');
      await until(async () => (await lm(g, key, 'GET', `/v2/lm/deployments/${uid}`)).status === 404);
    });

    it('stop and delete several at once: one bulk call, a line per item, a refused item exits non-zero', async () => {
      const ids = [await deploy(), await deploy(), await deploy()];
      const stop = await cli('stop', 'deployment', ...ids);
      assert.equal(stop.code, 0, stop.stderr);
      const lines = stop.stdout.trimEnd().split('\n');
      assert.match(lines[0] ?? '', /^ID\s+Result$/);
      for (const uid of ids)
        assert.ok(
          lines.some((l) => l.startsWith(uid) && l.endsWith('Deployment modification scheduled')),
          stop.stdout,
        );
      for (const uid of ids) await until(async () => (await statusOf(uid)) === 'STOPPED');

      // Stopping what is stopped is refused item by item, as AI Core refuses it (412 per item).
      const again = await cli('stop', 'deployment', ...ids.slice(0, 2), '--raw');
      assert.equal(again.code, 1);
      const items = JSON.parse(again.stdout).deployments as { id: string; error?: { code: string } }[];
      assert.deepEqual(
        items.map((x) => x.id),
        ids.slice(0, 2),
      );
      assert.ok(items.every((x) => x.error !== undefined));

      const del = await cli('delete', 'deployment', ...ids);
      assert.equal(del.code, 0, del.stderr);
      for (const uid of ids) assert.ok(del.stdout.includes(uid) && del.stdout.includes('Deployment deletion scheduled'));
      for (const uid of ids) await until(async () => (await lm(g, key, 'GET', `/v2/lm/deployments/${uid}`)).status === 404);
      const list = await cli('deployments', '--raw');
      assert.equal(JSON.parse(list.stdout).length, 1, 'only the first test’s deployment is left');
    });

    it('a bad ttl is the server’s 400, printed as an error', async () => {
      const r = await cli('deploy', '--configuration', configId, '--ttl', '1w');
      assert.equal(r.code, 1);
      assert.match(r.stderr, /^error: .*ttl/);
    });
  });
}

async function until(pred: () => Promise<boolean>, timeoutMs = 20_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await pred())) {
    assert.ok(Date.now() < deadline, 'condition not reached in time');
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
