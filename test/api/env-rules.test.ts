import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { secretContext } from '../../src/control/accounts/vault.js';
import { servingTemplate } from '../fixtures/aicore/templates.js';
import { lm } from '../helpers/aicore.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { TEST_STORES } from '../helpers/stores.js';

/**
 * Env vars a process cannot be started with, or that Gantry and the runtime set, are refused when written
 * (account secrets, an instance's env and a serverless worker's); a start that fails anyway shows its reason in
 * status_msg. A name is never dropped without a word: `__proto__` is kept like any other.
 */
for (const ts of TEST_STORES) {
  describe(`env var rules and failed starts (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    before(async () => {
      // Two GPUs: the instance of one test may still hold one while the next starts its own.
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB' });
    });
    after(() => g.dispose());

    const offer = 1001;

    it('refuses secrets named like the variables the runtime or Gantry set, with a NUL byte, or too large', async () => {
      for (const key of [
        'PATH',
        'path',
        'HOME',
        'LD_PRELOAD',
        'LD_AUDIT',
        'GANTRY_URL',
        'GANTRY_ANYTHING',
        'CONTAINER_API_KEY',
        'MASTER_TOKEN',
        'REPORT_ADDR',
        'WORKER_PORT',
        'CONTAINER_ID',
        'VAST_TCP_PORT_80',
      ]) {
        const r = await g.api('POST', '/api/v0/secrets/', { key, value: 'x' });
        assert.equal(r.status, 400, `${key}: ${r.text}`);
        assert.match(r.body.msg, /reserved/, key);
      }
      const nul = await g.api('POST', '/api/v0/secrets/', { key: 'HF_TOKEN', value: 'a\u0000b' });
      assert.equal(nul.status, 400, nul.text);
      assert.match(nul.body.msg, /NUL/);
      const big = await g.api('POST', '/api/v0/secrets/', { key: 'HF_TOKEN', value: 'x'.repeat(64 * 1024 + 1) });
      assert.equal(big.status, 400, big.text);
      // In all: nine values under the single bound add up past the account's total.
      for (let i = 0; i < 8; i++) assert.equal((await g.api('POST', '/api/v0/secrets/', { key: `BIG_${i}`, value: 'x'.repeat(65_000) })).status, 200);
      const over = await g.api('POST', '/api/v0/secrets/', { key: 'BIG_8', value: 'x'.repeat(65_000) });
      assert.equal(over.status, 400, over.text);
      assert.match(over.body.msg, /in all/);
      for (let i = 0; i < 8; i++) assert.equal((await g.api('DELETE', '/api/v0/secrets/', { key: `BIG_${i}` })).status, 200);
      assert.deepEqual((await g.api('GET', '/api/v0/secrets/')).body.secrets, {});
    });

    it('refuses the same in an instance env, as flags or as an object', async () => {
      for (const env of [
        '-e PATH=/tmp',
        '-e LD_PRELOAD=/x.so',
        '-e GANTRY_URL=http://evil',
        { CONTAINER_API_KEY: 'x' },
        { MASTER_TOKEN: 'x' },
        { HF: 'a\u0000b' },
        '-e HF=' + 'x'.repeat(70_000),
      ]) {
        const r = await g.api('PUT', `/api/v0/asks/${offer}/`, { image: 'x', env, onstart: 'sleep 1' });
        assert.equal(r.status, 400, `${JSON.stringify(env).slice(0, 40)}: ${r.text}`);
        assert.equal(r.body.code, 'INVALID_ENV', r.text);
      }
    });

    it('shows why a start failed in status_msg (a bad secret stored before these rules)', async () => {
      const me = (await g.api('GET', '/api/v0/users/current/')).body.id as number;
      const ctx = g.control.ctx;
      const { sealed, keyId } = ctx.vault.seal('a\u0000b', secretContext(me, 'OLD_TOKEN'));
      await g.store.putSecret({ accountId: me, name: 'OLD_TOKEN', sealed, keyId, now: Date.now() }, 'create');
      const c = await g.api('PUT', `/api/v0/asks/${offer}/`, { image: 'x', onstart: 'sleep 300' });
      assert.equal(c.status, 200, c.text);
      const id = c.body.new_contract as number;
      const row = await g.waitInstance(id, (r) => r.actual_status !== 'created' && r.actual_status !== 'loading' && r.status_msg !== null, 60_000);
      assert.notEqual(row.actual_status, 'running');
      assert.doesNotMatch(String(row.status_msg), /a\u0000b|a\\x00b/, 'the value is not shown');
      assert.match(String(row.status_msg), /failed to start: account env var OLD_TOKEN cannot be used: .*NUL byte/);
      // Later looks at the host (the sweep compares it with the instance) keep the reason, not a guess.
      const swept = async (): Promise<number> => (await ctx.metrics.hostSweeps.get()).values.find((v) => v.labels.outcome === 'swept')?.value ?? 0;
      const before = await swept();
      for (let i = 0; (await swept()) < before + 2; i++) {
        assert.ok(i < 600, 'the host is swept again');
        await new Promise((r) => setTimeout(r, 100));
      }
      const later = (await g.api('GET', `/api/v0/instances/${id}/`)).body.instances as Record<string, unknown>;
      assert.match(String(later.status_msg), /failed to start: account env var OLD_TOKEN cannot be used: .*NUL byte/);
      // Once the cause is gone, starting it again tries again (not "already in that state").
      await g.store.deleteSecret(me, 'OLD_TOKEN');
      const again = await g.api('PUT', `/api/v0/instances/${id}/`, { state: 'running' });
      assert.equal(again.status, 200, again.text);
      assert.doesNotMatch(String(again.body.msg ?? ''), /already/, again.text);
      await g.waitInstance(id, (r) => r.actual_status === 'running', 60_000);
      assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
    });

    /** Destroy an instance and wait until it is gone, its GPU free for the next. */
    const destroy = async (id: number): Promise<void> => {
      assert.equal((await g.api('DELETE', `/api/v0/instances/${id}/`)).status, 200);
      for (let i = 0; (await g.api('GET', `/api/v0/instances/${id}/`)).status !== 404; i++) {
        assert.ok(i < 600, `instance ${id} is destroyed`);
        await new Promise((r) => setTimeout(r, 50));
      }
    };

    it('keeps a variable named __proto__ or constructor, as flags or as an object, down to the workload', async () => {
      // JSON.parse makes `__proto__` an own key, as a client's JSON body does (an object literal would set the prototype).
      const asObject = JSON.parse('{"__proto__": "from-object", "-e constructor=from-flag-key": "1"}') as Record<string, string>;
      const fromObject = await g.api('PUT', `/api/v0/asks/${offer}/`, { image: 'x', env: asObject, onstart: 'sleep 300' });
      assert.equal(fromObject.status, 200, fromObject.text);
      const objectRow = await g.waitInstance(fromObject.body.new_contract as number, (r) => r.actual_status === 'running', 60_000);
      assert.deepEqual(objectRow.extra_env, [
        ['__proto__', 'from-object'],
        ['constructor', 'from-flag-key'],
      ]);
      await destroy(fromObject.body.new_contract as number);

      const c = await g.api('PUT', `/api/v0/asks/${offer}/`, {
        image: 'x',
        env: '-e __proto__=from-flags -e constructor=ctor',
        onstart: 'echo "proto=$__proto__ ctor=$constructor"; sleep 300',
      });
      assert.equal(c.status, 200, c.text);
      const id = c.body.new_contract as number;
      const row = await g.waitInstance(id, (r) => r.actual_status === 'running', 60_000);
      assert.deepEqual(row.extra_env, [
        ['__proto__', 'from-flags'],
        ['constructor', 'ctor'],
      ]);
      let text = '';
      for (let i = 0; i < 200 && !/proto=/.test(text); i++) {
        const logs = await g.api('PUT', `/api/v0/instances/request_logs/${id}/`, { tail: 20 });
        text = await (await fetch(logs.body.result_url)).text();
        if (!/proto=/.test(text)) await new Promise((r) => setTimeout(r, 100));
      }
      assert.match(text, /proto=from-flags ctor=ctor/);
      await destroy(id);
    });

    it("refuses the same names in a serverless worker's env (workergroups, launch_args, templates, deployments)", async () => {
      const ep = await g.api('POST', '/api/v0/endptjobs/', { endpoint_name: 'env-rules', min_load: 0, cold_workers: 0, min_workers: 0, max_workers: 1 });
      assert.equal(ep.status, 200, ep.text);
      const endpointId = ep.body.id as number;
      const refused = (r: { status: number; body: any; text: string }, name: string): void => {
        assert.equal(r.status, 400, r.text);
        assert.deepEqual([r.body.success, r.body.code], [false, 'INVALID_ENV'], r.text);
        assert.match(String(r.body.msg), new RegExp(`'${name}' is reserved`), r.text);
      };
      const worker = { endpoint_id: endpointId, image: 'local/worker', onstart: 'sleep 60', search_params: 'num_gpus=1', test_workers: 0 };
      for (const [env, name] of [
        ['-e PATH=/tmp', 'PATH'],
        ['-e LD_PRELOAD=/x.so -p 8000:8000', 'LD_PRELOAD'],
        ['-e GANTRY_URL=http://evil', 'GANTRY_URL'],
        [{ MASTER_TOKEN: 'x' }, 'MASTER_TOKEN'],
        [{ WORKER_PORT: '1' }, 'WORKER_PORT'],
        [{ CONTAINER_API_KEY: 'x' }, 'CONTAINER_API_KEY'],
      ] as const) {
        refused(await g.api('POST', '/api/v0/autojobs/', { ...worker, env }), name);
      }
      refused(await g.api('POST', '/api/v0/workergroups/', { ...worker, launch_args: "--env '-e HOME=/root'" }), 'HOME');
      const tpl = await g.api('POST', '/api/v0/template/', { name: 'reserved', image: 'local/worker', env: '-e BASH_ENV=/x', onstart: 'sleep 60' });
      assert.equal(tpl.status, 200, tpl.text);
      refused(await g.api('POST', '/api/v0/autojobs/', { endpoint_id: endpointId, template_hash: tpl.body.template.hash_id, test_workers: 0 }), 'BASH_ENV');
      refused(
        await g.api('POST', '/api/v0/deployments/', { name: 'env-dep', image: 'local/worker', env: '-e CONTAINER_ID=1', min_workers: 0 }),
        'CONTAINER_ID',
      );
      assert.equal((await g.api('GET', '/api/v0/endptjobs/')).body.results.length, 1, 'a refused deployment leaves no endpoint behind');
      assert.deepEqual((await g.api('GET', '/api/v0/workergroups/')).body.results, [], 'nothing refused was written');

      // What the official SDKs put in a code deployment's env is taken: Vast's Python SDK, then Gantry's Node SDK.
      const code = {
        image: 'python:3.12-slim',
        file_hash: 'a'.repeat(64),
        file_size: 100,
        search_params: 'gpu_ram>=8',
        storage: 16,
        max_workers: 1,
        cold_workers: 0,
      };
      const sdkEnv =
        '-p 3000:3000/tcp -e REPORT_ADDR=https://run.vast.ai -e VAST_API_URL=http://127.0.0.1:1 -e USE_SYSTEM_PYTHON=true -e UV_SYSTEM_PYTHON=1 -e UV_BREAK_SYSTEM_PACKAGES=1';
      const py = await g.api('PUT', '/api/v0/deployments/', { ...code, name: 'py-sdk', env: sdkEnv });
      assert.equal(py.status, 200, py.text);
      const node = await g.api('PUT', '/api/v0/deployments/', { ...code, name: 'node-sdk', env: '-e GANTRY_CODE_RUNTIME=node' });
      assert.equal(node.status, 200, node.text);
      refused(await g.api('PUT', '/api/v0/deployments/', { ...code, name: 'py-sdk', env: `${sdkEnv} -e LD_AUDIT=/x.so` }), 'LD_AUDIT');
      // A plain workergroup may hold them too (Gantry sets its own REPORT_ADDR at each start); an instance may not.
      const ok = await g.api('POST', '/api/v0/autojobs/', { ...worker, env: '-e REPORT_ADDR=http://x -e HF_HOME=/data' });
      assert.equal(ok.status, 200, ok.text);
      const wgId = ok.body.id as number;
      const asInstance = await g.api('PUT', `/api/v0/asks/${offer}/`, { image: 'x', env: '-e REPORT_ADDR=http://x', onstart: 'sleep 1' });
      assert.equal(asInstance.status, 400, asInstance.text);

      // An update is checked as a create is, and a refused one changes nothing.
      refused(await g.api('PUT', `/api/v0/autojobs/${wgId}/`, { env: '-e SHELL=/bin/zsh' }), 'SHELL');
      refused(await g.api('PUT', `/api/v0/autojobs/${wgId}/`, { launch_args: "--env '-e VAST_TCP_PORT_22=1'" }), 'VAST_TCP_PORT_22');
      const envOf = async (): Promise<unknown> =>
        ((await g.api('GET', '/api/v0/workergroups/')).body.results as { id: number; env: unknown }[]).find((w) => w.id === wgId)?.env;
      assert.deepEqual(await envOf(), { REPORT_ADDR: 'http://x', HF_HOME: '/data' });
      // One stored before the rule keeps its env through an update that does not write env.
      const stored = (await g.store.getWorkergroup(wgId))!;
      await g.store.updateWorkergroup(wgId, { template: { ...stored.template, env: { PATH: '/opt/conda/bin:/usr/bin:/bin' } } });
      const image = await g.api('PUT', `/api/v0/autojobs/${wgId}/`, { image: 'local/worker:2' });
      assert.equal(image.status, 200, image.text);
      assert.deepEqual(await envOf(), { PATH: '/opt/conda/bin:/usr/bin:/bin' });
      // ... and a variable named __proto__ is kept in a worker's env as in an instance's.
      const proto = await g.api('PUT', `/api/v0/autojobs/${wgId}/`, { env: '-e __proto__=p -e HF_HOME=/data' });
      assert.equal(proto.status, 200, proto.text);
      assert.deepEqual(Object.entries((await envOf()) as object), [
        ['__proto__', 'p'],
        ['HF_HOME', '/data'],
      ]);
      for (const d of (await g.api('GET', '/api/v0/deployments/')).body.deployments as { id: number }[])
        assert.equal((await g.api('DELETE', `/api/v0/deployment/${d.id}/`)).status, 200);
      assert.equal((await g.api('DELETE', `/api/v0/endptjobs/${endpointId}/`)).status, 200);
    });

    it("refuses them in an AI Core serving template's env when a deployment is made of it, in AI Core's error shape", async () => {
      const key = g.adminKey as string;
      const files = [
        {
          name: 'reserved.yaml',
          content: servingTemplate({ id: 'reserved-env', scenario: 'env-rules', minReplicas: 0, env: { HF_HOME: '/d', LD_PRELOAD: '/x.so' } }),
        },
      ];
      assert.equal((await lm(g, key, 'POST', '/v2/admin/servingTemplates', { files }, { group: null })).status, 201);
      const c = await lm(g, key, 'POST', '/v2/lm/configurations', {
        name: 'reserved',
        scenarioId: 'env-rules',
        executableId: 'reserved-env',
        parameterBindings: [],
        inputArtifactBindings: [],
      });
      assert.equal(c.status, 201, c.text);
      const d = await lm(g, key, 'POST', '/v2/lm/deployments', { configurationId: c.body.id });
      assert.equal(d.status, 400, d.text);
      assert.equal(d.body.error?.code, 'INVALID_ENV', d.text);
      assert.match(String(d.body.error?.message), /'LD_PRELOAD' is reserved/, d.text);
      assert.equal((await lm(g, key, 'GET', '/v2/lm/deployments')).body.count, 0, 'nothing was left behind');
    });
  });
}
