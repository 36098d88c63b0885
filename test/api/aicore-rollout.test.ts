import assert from 'node:assert/strict';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { chatServingTemplate, EXAMPLES_DIR, lm } from '../helpers/aicore.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { ONE_STORE } from '../helpers/stores.js';

/**
 * A copy of the example chat template (scenario foundation-models, executable `gated-chat`) whose
 * worker serves only when the file named by parameter `gate` exists; otherwise it prints "boom" and
 * exits 3 at once. One template gives a configuration that cannot start and, once the file is
 * written, the same configuration starting fine (a DEAD deployment started again).
 */
async function gatedServingTemplate(): Promise<string> {
  const chat = await chatServingTemplate();
  const gated = chat
    .replace('name: azure-openai', 'name: gated-chat')
    .replace('executables.ai.sap.com/name: "azure-openai"', 'executables.ai.sap.com/name: "gated-chat"')
    .replace(
      '      - name: examplesDir',
      '      - name: gate\n        default: "/nonexistent/gate"\n        type: string\n        description: "Serve only while this file exists"\n      - name: examplesDir',
    )
    .replace(
      'args: ["exec node \\"$EXAMPLES_DIR/aicore-chat/server.mjs\\""]',
      'args: ["if [ -f \\"$GATE\\" ]; then exec node \\"$EXAMPLES_DIR/aicore-chat/server.mjs\\"; fi; echo boom >&2; exit 3"]',
    )
    .replace('          env:\n', '          env:\n            - name: GATE\n              value: "{{inputs.parameters.gate}}"\n');
  assert.notEqual(gated, chat);
  assert.match(gated, /name: gated-chat/);
  assert.match(gated, /exit 3/);
  assert.match(gated, /name: GATE/);
  return gated;
}

interface Answer {
  readonly status: number;
  readonly model: string | null;
  readonly text: string;
}

/** A steady stream of chat requests through the deployment URL, `loops` sequential callers side by side, until stopped. */
class ChatStream {
  readonly answers: Answer[][];
  #running = true;
  readonly #loops: Promise<void>[];

  constructor(call: () => Promise<Answer>, loops: number) {
    this.answers = Array.from({ length: loops }, () => []);
    this.#loops = this.answers.map(async (mine) => {
      while (this.#running) mine.push(await call());
    });
  }

  get all(): Answer[] {
    return this.answers.flat();
  }

  count(model: string): number {
    return this.all.filter((a) => a.model === model).length;
  }

  async stop(): Promise<Answer[]> {
    this.#running = false;
    await Promise.all(this.#loops);
    return this.all;
  }
}

function assertAllServed(answers: readonly Answer[], models: readonly string[]): void {
  const failed = answers.filter((a) => a.status !== 200 || !models.includes(a.model ?? ''));
  assert.deepEqual(failed.slice(0, 3), [], `${failed.length} of ${answers.length} requests failed or came from another model`);
}

const WORKER_FAILURES_BEFORE_DEAD = 2;

/**
 * Configuration changes, DEAD, start again and ttl through the AI Core API (plain HTTP, a Gantry key
 * as Bearer), with the example chat server as the model: the `model` field of each answer tells
 * which configuration served it.
 */
for (const ts of ONE_STORE) {
  describe(`AI Core configuration change, DEAD and start again (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let key: string;
    let tmp: string;
    const call = (method: string, path: string, body?: unknown) => lm(g, key, method, path, body);
    const get = async (id: string): Promise<Record<string, any>> => {
      const r = await call('GET', `/v2/lm/deployments/${id}`);
      assert.equal(r.status, 200, r.text);
      return r.body;
    };
    const chat = async (id: string, text = 'hello'): Promise<Answer> => {
      const r = await call('POST', `/v2/inference/deployments/${id}/chat/completions`, { messages: [{ role: 'user', content: text }] });
      return { status: r.status, model: r.status === 200 ? (r.body.model as string) : null, text: r.text.slice(0, 300) };
    };
    const configuration = async (name: string, executableId: string, bindings: Record<string, string>): Promise<string> => {
      const r = await call('POST', '/v2/lm/configurations', {
        name,
        scenarioId: 'foundation-models',
        executableId,
        parameterBindings: Object.entries({ examplesDir: EXAMPLES_DIR, ...bindings }).map(([k, value]) => ({ key: k, value })),
        inputArtifactBindings: [],
      });
      assert.equal(r.status, 201, r.text);
      return r.body.id as string;
    };
    const deploy = async (configurationId: string): Promise<string> => {
      const r = await call('POST', '/v2/lm/deployments', { configurationId });
      assert.equal(r.status, 202, r.text);
      return r.body.id as string;
    };
    const status = (id: string, want: string, timeoutMs = 60_000) =>
      until(
        `deployment ${id} ${want}`,
        async () => {
          const d = await get(id);
          return d.status === want ? d : null;
        },
        timeoutMs,
      );
    const patch = async (id: string, body: unknown): Promise<void> => {
      const r = await call('PATCH', `/v2/lm/deployments/${id}`, body);
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.message, 'Deployment modification scheduled');
    };

    let configA: string;
    let configB: string;
    let configBoom: string;
    let rolled: string;

    before(async () => {
      tmp = await mkdtemp(join(tmpdir(), 'gantry-rollout-'));
      g = await startTestGantry(ts, {
        // Room for a new worker beside the old one during a change, and for the DEAD deployments beside it.
        gpus: '4x RTX 4090:24GB',
        settings: { ...SERVERLESS_FAST, workerReportStaleMs: 3000, workerProbeTimeoutMs: 2000, workerFailuresBeforeDead: WORKER_FAILURES_BEFORE_DEAD },
      });
      const u = await g.api('POST', '/api/v0/users/', { username: 'roller', credit: 100 });
      assert.equal(u.status, 200, u.text);
      key = u.body.api_key;
      const files = [
        { name: 'aicore-chat/serving-template.yaml', content: await chatServingTemplate() },
        { name: 'gated/serving-template.yaml', content: await gatedServingTemplate() },
      ];
      const t = await lm(g, key, 'POST', '/v2/admin/servingTemplates', { files }, { group: null });
      assert.equal(t.status, 201, t.text);
      // Each answer takes a little while, so requests are in flight while workers are rolled over.
      configA = await configuration('chat-a', 'azure-openai', { modelName: 'model-a', thinkMs: '20' });
      configB = await configuration('chat-b', 'azure-openai', { modelName: 'model-b', thinkMs: '20' });
      configBoom = await configuration('chat-boom', 'gated-chat', { modelName: 'model-boom', gate: join(tmp, 'never') });
    });
    after(async () => {
      await g.dispose();
      await rm(tmp, { recursive: true, force: true });
    });

    it('PATCH configurationId on a RUNNING deployment rolls workers over with no failed request', async () => {
      rolled = await deploy(configA);
      const running = await status(rolled, 'RUNNING');
      assert.equal(running.deploymentUrl, `${g.url}/v2/inference/deployments/${rolled}`);
      await until('latestRunningConfigurationId A', async () => (await get(rolled)).latestRunningConfigurationId === configA);

      const stream = new ChatStream(() => chat(rolled), 3);
      try {
        await until('answers from model-a', async () => stream.count('model-a') >= 5);
        await patch(rolled, { configurationId: configB });
        const changing = await get(rolled);
        assert.equal(changing.configurationId, configB);
        assert.equal(changing.configurationName, 'chat-b');
        assert.equal(changing.lastOperation, 'UPDATE');
        assert.equal(changing.latestRunningConfigurationId, configA);
        // A resolver picking deployments by model finds the one that answers it: A's, until B's serves.
        assert.deepEqual(changing.details.resources.backendDetails.model, { name: 'model-a', version: 'latest' });
        assert.equal(changing.status, 'RUNNING');
        assert.equal(changing.statusDetails.nextConfigurationId, configB);

        // Watch the change: latestRunningConfigurationId stays A until B's worker serves, then is B; the status stays RUNNING.
        const seen: { latest: string; status: string; workers: number; modelBAnswers: number }[] = [];
        await until(
          'latestRunningConfigurationId B',
          async () => {
            const d = await get(rolled);
            seen.push({
              latest: d.latestRunningConfigurationId,
              status: d.status,
              workers: d.statusDetails.workers.length,
              modelBAnswers: stream.count('model-b'),
            });
            return d.latestRunningConfigurationId === configB;
          },
          60_000,
        );
        const firstB = seen.findIndex((s) => s.latest === configB);
        assert.ok(
          seen.slice(0, firstB).every((s) => s.latest === configA),
          JSON.stringify(seen.slice(0, firstB + 1)),
        );
        assert.ok(
          seen.every((s) => s.status === 'RUNNING'),
          JSON.stringify(seen.filter((s) => s.status !== 'RUNNING')),
        );
        // The fake GPUs had room for the new worker beside the old one.
        assert.ok(
          seen.some((s) => s.workers >= 2),
          JSON.stringify(seen),
        );
        const before = stream.count('model-b');
        await until('more answers from model-b', async () => stream.count('model-b') >= before + 10);
      } finally {
        await stream.stop();
      }
      assertAllServed(stream.all, ['model-a', 'model-b']);
      // Each caller's answers switch from A to B once: new workers serve before old ones stop, and no request goes back to A.
      for (const mine of stream.answers) {
        const models = mine.map((a) => a.model);
        const switchAt = models.indexOf('model-b');
        assert.ok(switchAt > 0, `a caller saw no switch: ${models.join(',')}`);
        assert.ok(
          models.slice(switchAt).every((m) => m === 'model-b'),
          `a caller went back to model-a: ${models.slice(switchAt).join(',')}`,
        );
      }

      // The old worker is gone; the deployment shows configuration B's model.
      const done = await until('one worker left', async () => {
        const d = await get(rolled);
        return d.statusDetails.workers.length === 1 ? d : null;
      });
      assert.equal(done.status, 'RUNNING');
      assert.deepEqual(done.details.resources.backendDetails.model, { name: 'model-b', version: 'latest' });
      assert.equal(done.details.scaling.backendDetails.predictor.runningReplicas, 1);
      assert.equal(done.statusDetails.nextConfigurationId, undefined);
      assert.equal((await chat(rolled)).model, 'model-b');
    });

    it('a configuration that cannot start leaves the old workers serving and says why; a PATCH back rolls back', async () => {
      const stream = new ChatStream(() => chat(rolled), 2);
      let given: Record<string, any>;
      try {
        await until('answers', async () => stream.all.length >= 3);
        await patch(rolled, { configurationId: configBoom });
        const changing = await get(rolled);
        assert.equal(changing.configurationId, configBoom);
        assert.equal(changing.latestRunningConfigurationId, configB);
        // Its workers fail WORKER_FAILURES_BEFORE_DEAD times; then the change is given up and the deployment says why.
        given = await until(
          'the change given up',
          async () => {
            const d = await get(rolled);
            return /could not start/.test(d.statusMessage) ? d : null;
          },
          60_000,
        );
        const more = stream.all.length;
        await until('answers after the change was given up', async () => stream.all.length >= more + 5);
      } finally {
        await stream.stop();
      }
      assertAllServed(stream.all, ['model-b']);
      assert.equal(given.status, 'RUNNING');
      assert.equal(given.deploymentUrl, `${g.url}/v2/inference/deployments/${rolled}`);
      assert.equal(given.latestRunningConfigurationId, configB);
      assert.equal(given.configurationId, configBoom);
      assert.deepEqual(given.details.resources.backendDetails.model, { name: 'model-b', version: 'latest' }, 'what still serves');
      const listed = (await call('GET', '/v2/lm/deployments')).body.resources.find((x: { id: string }) => x.id === rolled);
      assert.deepEqual(listed.details.resources.backendDetails.model, { name: 'model-b', version: 'latest' });
      assert.match(given.statusMessage, new RegExp(configBoom));
      assert.match(given.statusMessage, /code 3/);
      assert.match(given.statusMessage, new RegExp(`${WORKER_FAILURES_BEFORE_DEAD} worker failure\\(s\\)`));
      assert.match(given.statusMessage, new RegExp(configB), 'names the configuration that still serves');
      assert.ok(given.statusMessage.length <= 256);
      assert.equal(given.statusDetails.nextConfigurationId, undefined, 'the new workergroup is gone');

      // Roll back: PATCH configurationId to latestRunningConfigurationId; serving never stops.
      const back = new ChatStream(() => chat(rolled), 2);
      try {
        await patch(rolled, { configurationId: given.latestRunningConfigurationId });
        const d = await get(rolled);
        assert.equal(d.configurationId, configB);
        assert.equal(d.latestRunningConfigurationId, configB);
        assert.equal(d.lastOperation, 'UPDATE');
        await until('the status message cleared', async () => !/could not start/.test((await get(rolled)).statusMessage));
        await until('answers after the rollback', async () => back.all.length >= 5);
      } finally {
        await back.stop();
      }
      assertAllServed(back.all, ['model-b']);
      // The given-up group's workers are retired by the serverless loop's next pass (it alone removes groups).
      const d = await until('only the serving worker left', async () => {
        const now = await get(rolled);
        return now.statusDetails.workers.length === 1 ? now : null;
      });
      assert.equal(d.status, 'RUNNING');
      assert.equal(d.statusDetails.workers.length, 1);
    });

    it('a configuration change while STOPPED is refused (412); targetStatus RUNNING starts a STOPPED deployment again', async () => {
      await patch(rolled, { targetStatus: 'STOPPED' });
      const stopped = await status(rolled, 'STOPPED');
      assert.equal(stopped.deploymentUrl, '');
      const refused = await call('PATCH', `/v2/lm/deployments/${rolled}`, { configurationId: configA });
      assert.equal(refused.status, 412, refused.text);
      assert.equal(refused.body.error.code, 'ILLEGAL_TRANSITION');

      // Gantry's extension: start it again from its configuration.
      await patch(rolled, { targetStatus: 'RUNNING' });
      const starting = await get(rolled);
      assert.equal(starting.targetStatus, 'RUNNING');
      assert.ok(['PENDING', 'RUNNING'].includes(starting.status), starting.status);
      const running = await status(rolled, 'RUNNING');
      assert.equal(running.configurationId, configB);
      assert.equal(running.deploymentUrl, `${g.url}/v2/inference/deployments/${rolled}`);
      const answer = await chat(rolled, 'again');
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.model, 'model-b');

      await patch(rolled, { targetStatus: 'STOPPED' });
      await status(rolled, 'STOPPED');
      assert.equal((await call('DELETE', `/v2/lm/deployments/${rolled}`)).status, 202);
    });

    it('workers that keep failing make the deployment DEAD (exit codes and output in statusMessage); it can be deleted', async () => {
      const dead = await deploy(configBoom);
      const d = await status(dead, 'DEAD');
      assert.equal(d.deploymentUrl, '');
      assert.equal(d.targetStatus, 'RUNNING');
      assert.match(d.statusMessage, /keep failing/);
      assert.match(d.statusMessage, /exit codes: 3, 3/);
      assert.match(d.statusMessage, /boom/);
      assert.ok(d.statusMessage.length <= 256);
      // The failed workers are gone; statusDetails keeps what they said.
      const failures = d.statusDetails.failures;
      assert.ok(failures.count >= WORKER_FAILURES_BEFORE_DEAD, JSON.stringify(d.statusDetails));
      assert.ok(
        failures.latest.every((f: { exitCode: number }) => f.exitCode === 3),
        JSON.stringify(failures),
      );
      assert.match(failures.latest.at(-1).output, /boom/);
      assert.match(failures.latest.at(-1).message, /code 3/);
      // It holds: no worker is recruited while it is DEAD.
      await new Promise((r) => setTimeout(r, 800));
      const held = await get(dead);
      assert.equal(held.status, 'DEAD');
      assert.equal(held.details.scaling.backendDetails.predictor.runningReplicas, 0);
      const answer = await chat(dead);
      assert.ok(answer.status >= 400, answer.text);

      const del = await call('DELETE', `/v2/lm/deployments/${dead}`);
      assert.equal(del.status, 202, del.text);
      assert.equal(del.body.message, 'Deployment deletion scheduled');
      await until('404 after delete', async () => (await call('GET', `/v2/lm/deployments/${dead}`)).status === 404);
    });

    it('targetStatus RUNNING starts a DEAD deployment again from its configuration', async () => {
      const gate = join(tmp, 'gate');
      const cfg = await configuration('chat-gated', 'gated-chat', { modelName: 'model-gated', gate });
      const id = await deploy(cfg);
      await status(id, 'DEAD');
      // Whatever made it fail is fixed (here: the file it waits for exists); start it again.
      await writeFile(gate, 'open');
      await patch(id, { targetStatus: 'RUNNING' });
      const starting = await get(id);
      assert.ok(['PENDING', 'RUNNING'].includes(starting.status), starting.status);
      const running = await status(id, 'RUNNING');
      assert.equal(running.latestRunningConfigurationId ?? cfg, cfg);
      const answer = await chat(id, 'alive');
      assert.equal(answer.status, 200, answer.text);
      assert.equal(answer.model, 'model-gated');
      await patch(id, { targetStatus: 'STOPPED' });
      await status(id, 'STOPPED');
      assert.equal((await call('DELETE', `/v2/lm/deployments/${id}`)).status, 202);
    });
  });

  describe(`AI Core deployment ttl (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let key: string;
    let clock: ManualClock;
    let config: string;
    const call = (method: string, path: string, body?: unknown) => lm(g, key, method, path, body);

    before(async () => {
      clock = new ManualClock();
      g = await startTestGantry(ts, {
        clock,
        gpus: '4x RTX 4090:24GB',
        // Time jumps past the ttl in one step: the host must not count as gone meanwhile.
        settings: { ...SERVERLESS_FAST, workerProbeTimeoutMs: 2000, machineOfflineMs: 3 * 3600_000 },
      });
      const u = await g.api('POST', '/api/v0/users/', { username: 'ttl', credit: 100 });
      assert.equal(u.status, 200, u.text);
      key = u.body.api_key;
      const t = await lm(
        g,
        key,
        'POST',
        '/v2/admin/servingTemplates',
        { files: [{ name: 'a/t.yaml', content: await chatServingTemplate() }] },
        { group: null },
      );
      assert.equal(t.status, 201, t.text);
      const c = await call('POST', '/v2/lm/configurations', {
        name: 'ttl-chat',
        scenarioId: 'foundation-models',
        executableId: 'azure-openai',
        parameterBindings: [
          { key: 'modelName', value: 'model-ttl' },
          { key: 'examplesDir', value: EXAMPLES_DIR },
        ],
        inputArtifactBindings: [],
      });
      assert.equal(c.status, 201, c.text);
      config = c.body.id;
    });
    after(() => g.dispose());

    it('refuses a ttl that is not a whole number of m, h or d, or below the minimum (400, AI Core body)', async () => {
      for (const ttl of ['10x', '5', '0m', '9m', 'm', '10 m', '1.5h', '-1d']) {
        const r = await call('POST', '/v2/lm/deployments', { configurationId: config, ttl });
        assert.equal(r.status, 400, `${ttl}: ${r.text}`);
        assert.equal(typeof r.body.error.code, 'string', r.text);
        assert.match(r.body.error.message, /ttl/, r.text);
        assert.equal(r.body.error.target, '/v2/lm/deployments');
        assert.equal(typeof r.body.error.requestId, 'string');
      }
      const none = await call('GET', '/v2/lm/deployments');
      assert.equal(none.body.count, 0, 'nothing was created');
    });

    it('accepts 10m, 24H and 2d; at expiry the deployment is stopped and deleted', async () => {
      const ids: Record<string, string> = {};
      for (const ttl of ['10m', '24H', '2d']) {
        const r = await call('POST', '/v2/lm/deployments', { configurationId: config, ttl });
        assert.equal(r.status, 202, r.text);
        assert.equal(r.body.ttl, ttl);
        ids[ttl] = r.body.id;
        assert.equal((await call('GET', `/v2/lm/deployments/${r.body.id}`)).body.ttl, ttl);
      }
      const short = ids['10m'] as string;
      // Time moves a little while the three start: a recruit that lost a race for an offer waits
      // recruitBackoffMs on this manual clock before it tries again.
      let nudged = 0;
      await until(
        'the 10m deployment RUNNING',
        async () => {
          const r = await call('GET', `/v2/lm/deployments/${short}`);
          if (r.body.status === 'RUNNING') return true;
          clock.advance(100);
          nudged += 100;
          return false;
        },
        60_000,
      );
      const ok = await call('POST', `/v2/inference/deployments/${short}/chat/completions`, { messages: [{ role: 'user', content: 'tick' }] });
      assert.equal(ok.status, 200, ok.text);

      clock.advance(9 * 60_000 - nudged);
      await new Promise((r) => setTimeout(r, 500));
      // Not before its time. (The jump makes worker reports stale at once: a slow probe may show the
      // deployment PENDING for a pass, which is not what is checked here.)
      const early = await call('GET', `/v2/lm/deployments/${short}`);
      assert.equal(early.status, 200, `not before its time: ${early.text}`);
      assert.equal(early.body.targetStatus, 'RUNNING');
      assert.ok(['RUNNING', 'PENDING'].includes(early.body.status), early.text);

      clock.advance(60_000 + 1_000);
      await until('the expired deployment gone (404)', async () => (await call('GET', `/v2/lm/deployments/${short}`)).status === 404, 30_000);
      const late = await call('POST', `/v2/inference/deployments/${short}/chat/completions`, { messages: [{ role: 'user', content: 'tock' }] });
      assert.equal(late.status, 404, late.text);
      // The others live on.
      for (const ttl of ['24H', '2d']) {
        const r = await call('GET', `/v2/lm/deployments/${ids[ttl] as string}`);
        assert.equal(r.status, 200, r.text);
        assert.notEqual(r.body.targetStatus, 'DELETED');
      }
      // A day later the 24H one is gone too; the 2d one still lives.
      clock.advance(24 * 3600_000);
      await until('the 24H deployment gone', async () => (await call('GET', `/v2/lm/deployments/${ids['24H'] as string}`)).status === 404, 30_000);
      assert.equal((await call('GET', `/v2/lm/deployments/${ids['2d'] as string}`)).status, 200);
    });
  });
}
