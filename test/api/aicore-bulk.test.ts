import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DeploymentApi } from '@sap-ai-sdk/ai-api';
import type { HttpDestination } from '@sap-cloud-sdk/connectivity';
import { crashTemplate, idleTemplate } from '../fixtures/aicore/bulk-templates.js';
import { chatServingTemplate, EXAMPLES_DIR, lm, sdkDestination, serviceKeyFor } from '../helpers/aicore.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { ONE_STORE_PG } from '../helpers/stores.js';

const MERGE_PATCH = { contentType: 'application/merge-patch+json' };
const DEPLOYMENTS = '/v2/lm/deployments';

type Lm = (method: string, path: string, body?: unknown, o?: { group?: string | null; contentType?: string }) => ReturnType<typeof lm>;

/** A user of its own (an account), its AI API caller, and the serving templates of these tests loaded. */
async function setUp(g: TestGantry, username: string, templates: { name: string; content: string }[]): Promise<{ key: string; call: Lm }> {
  const u = await g.api('POST', '/api/v0/users/', { username, credit: 100 });
  assert.equal(u.status, 200, u.text);
  const key = u.body.api_key as string;
  const call: Lm = (method, path, body, o) => lm(g, key, method, path, body, o);
  if (templates.length > 0) {
    const t = await call('POST', '/v2/admin/servingTemplates', { files: templates }, { group: null });
    assert.equal(t.status, 201, t.text);
  }
  return { key, call };
}

async function configuration(call: Lm, executableId: string, scenarioId: string, bindings: { key: string; value: string }[] = []): Promise<string> {
  const c = await call('POST', '/v2/lm/configurations', {
    name: `${executableId}-config`,
    scenarioId,
    executableId,
    parameterBindings: bindings,
    inputArtifactBindings: [],
  });
  assert.equal(c.status, 201, c.text);
  return c.body.id as string;
}

async function deploy(call: Lm, configurationId: string): Promise<string> {
  const d = await call('POST', DEPLOYMENTS, { configurationId });
  assert.equal(d.status, 202, d.text);
  return d.body.id as string;
}

const statusOf = async (call: Lm, id: string): Promise<string> => {
  const r = await call('GET', `${DEPLOYMENTS}/${id}?$select=status`);
  return r.status === 200 ? (r.body.status as string) : `HTTP ${r.status}`;
};

const untilStatus = (call: Lm, id: string, status: string, ms = 90_000): Promise<true> =>
  until(`${id} ${status}`, async () => (await statusOf(call, id)) === status, ms);

const count = async (call: Lm, status: string): Promise<number> => Number((await call('GET', `${DEPLOYMENTS}/$count?status=${status}`)).text);

/** A refused request answers AI Core's error body with this code. */
function refused(r: { status: number; body: any; text: string }, status: number, code?: string): void {
  assert.equal(r.status, status, r.text);
  assert.equal(typeof r.body.error?.message, 'string', r.text);
  assert.equal(typeof r.body.error?.requestId, 'string', r.text);
  if (code !== undefined) assert.equal(r.body.error.code, code, r.text);
}

const stop = (call: Lm, id: string): ReturnType<Lm> => call('PATCH', `${DEPLOYMENTS}/${id}`, { targetStatus: 'STOPPED' });
const bulk = (call: Lm, deployments: unknown): ReturnType<Lm> => call('PATCH', DEPLOYMENTS, { deployments }, MERGE_PATCH);

/**
 * AI Core's stop, delete and bulk change of deployments (issue 12 point 6): the transition table,
 * a bulk PATCH of 100 mixed items with per-item results, the all-or-nothing checks of a bulk
 * request, and a stop that finishes the 20 requests it accepted.
 */
for (const ts of ONE_STORE_PG) {
  describe(`AI Core stop, delete and bulk (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let call: Lm;
    let key: string;
    let idleConfig: string;
    let otherConfig: string;
    let dest: HttpDestination | undefined;

    before(async () => {
      g = await startTestGantry(ts, {
        // Room for the chat deployment whatever workers the earlier cases' deployments still hold. The serverless
        // loop's periodic pass at its default (1 s): intents wake it, and a faster tick over a hundred endpoints only burnt CPU.
        gpus: '8x RTX 4090:24GB',
        settings: { ...SERVERLESS_FAST, autoscaleIntervalMs: 1_000, workerReportStaleMs: 3000, workerProbeTimeoutMs: 2000, workerFailuresBeforeDead: 1 },
      });
      const me = await setUp(g, 'bulker', [
        { name: 'idle.yaml', content: idleTemplate() },
        { name: 'idle2.yaml', content: idleTemplate('idle-model-2') },
        { name: 'crash.yaml', content: crashTemplate() },
        { name: 'aicore-chat/serving-template.yaml', content: await chatServingTemplate() },
      ]);
      call = me.call;
      key = me.key;
      dest = await sdkDestination(await serviceKeyFor(g, me.key));
      idleConfig = await configuration(call, 'idle-model', 'bulk-test');
      otherConfig = await configuration(call, 'idle-model-2', 'bulk-test');
    });
    after(() => g.dispose());

    it('bulk PATCH of 100 mixed items: one result per item in order, legal ones applied, illegal ones refused alone', async () => {
      const ids: string[] = [];
      for (let i = 0; i < 100; i += 10) ids.push(...(await Promise.all(Array.from({ length: 10 }, () => deploy(call, idleConfig)))));
      await until('100 PENDING', async () => (await count(call, 'PENDING')) === 100, 60_000);
      // Ten stopped beforehand (one by one), so the bulk call can delete them.
      const early = ids.slice(90);
      for (const id of early) assert.equal((await stop(call, id)).status, 202);
      await until('10 STOPPED', async () => (await count(call, 'STOPPED')) === 10);

      const unknownIds = Array.from({ length: 10 }, (_, i) => `feed${String(i).padStart(12, '0')}`);
      const items = [
        ...ids.slice(0, 60).map((id) => ({ id, targetStatus: 'STOPPED', expect: 'ok' })), // PENDING → stop: legal
        ...ids.slice(60, 80).map((id) => ({ id, targetStatus: 'DELETED', expect: 'ILLEGAL_TRANSITION' })), // PENDING → delete: illegal
        ...early.slice(0, 9).map((id) => ({ id, targetStatus: 'DELETED', expect: 'ok' })), // STOPPED → delete: legal
        { id: early[9] as string, targetStatus: 'STOPPED', expect: 'ILLEGAL_TRANSITION' }, // STOPPED → stop: illegal
        ...unknownIds.map((id) => ({ id, targetStatus: 'STOPPED', expect: 'DEPLOYMENT_NOT_FOUND' })),
      ];
      // Shuffled deterministically, so results must follow the request's order, not the kinds'.
      items.sort((a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
      assert.equal(items.length, 100);
      const r = await bulk(
        call,
        items.map(({ id, targetStatus }) => ({ id, targetStatus })),
      );
      assert.equal(r.status, 202, r.text);
      const results = r.body.deployments as any[];
      assert.equal(results.length, 100);
      for (const [i, item] of items.entries()) {
        const res = results[i];
        assert.equal(res.id, item.id, `result ${i} is for another item`);
        if (item.expect === 'ok') {
          assert.equal(res.error, undefined, JSON.stringify(res));
          assert.equal(res.message, item.targetStatus === 'DELETED' ? 'Deployment deletion scheduled' : 'Deployment modification scheduled');
        } else {
          assert.equal(res.message, undefined, JSON.stringify(res));
          assert.equal(res.error.code, item.expect, JSON.stringify(res));
          for (const f of ['message', 'requestId', 'target']) assert.equal(typeof res.error[f], 'string', `${f} of ${JSON.stringify(res)}`);
          assert.equal(typeof res.error.details, 'object');
        }
      }
      // Applied: 60 more stopped (with the one already stopped: 61), 9 gone, 20 + 10 untouched still pending.
      await until('61 STOPPED', async () => (await count(call, 'STOPPED')) === 61);
      await until('9 deleted', async () => Number((await call('GET', `${DEPLOYMENTS}/$count`)).text) === 91);
      assert.equal(await count(call, 'PENDING'), 30);
      for (const id of early.slice(0, 9)) refused(await call('GET', `${DEPLOYMENTS}/${id}`), 404, 'DEPLOYMENT_NOT_FOUND');

      // All or nothing: 101 items, an id twice, no item → 400, and nothing applied.
      const pending = ids.slice(80, 90);
      const many = [...pending, ...ids.slice(0, 60), ...ids.slice(60, 80), ...unknownIds, ...early.slice(9)];
      while (many.length < 101) many.push(`feed${String(many.length).padStart(12, '1')}`);
      refused(
        await bulk(
          call,
          many.map((id) => ({ id, targetStatus: 'STOPPED' })),
        ),
        400,
      );
      refused(
        await bulk(call, [
          { id: pending[0], targetStatus: 'STOPPED' },
          { id: pending[1], targetStatus: 'STOPPED' },
          { id: pending[0], targetStatus: 'DELETED' },
        ]),
        400,
      );
      refused(await bulk(call, []), 400);
      refused(await call('PATCH', DEPLOYMENTS, {}, MERGE_PATCH), 400);
      refused(await bulk(call, [{ id: pending[0], targetStatus: 'RUNNING' }]), 400);
      refused(await bulk(call, [{ id: pending[0], targetStatus: 'STOPPED', extra: 1 }]), 400);
      refused(await bulk(call, [{ id: 'x', targetStatus: 'STOPPED' }]), 400);
      refused(await call('PATCH', DEPLOYMENTS, { deployments: [{ id: pending[0], targetStatus: 'STOPPED' }] }, { ...MERGE_PATCH, group: null }), 400);
      await new Promise((res) => setTimeout(res, 500)); // a pass of the loop would have shown a stop
      for (const id of pending) assert.equal(await statusOf(call, id), 'PENDING');

      // The SDK's own bulk call (merge-patch content type): a legal and an illegal item.
      // (The SDK types `deployments` as a Set, from the spec's uniqueItems; a Set would serialize as {}, so an array it is.)
      const sdk = await DeploymentApi.deploymentBatchModify(
        {
          deployments: [
            { id: pending[0] as string, targetStatus: 'STOPPED' },
            { id: pending[1] as string, targetStatus: 'DELETED' },
          ] as never,
        },
        { 'AI-Resource-Group': 'default' },
      ).execute(dest);
      const [a, b] = sdk.deployments as any[];
      assert.equal(a.message, 'Deployment modification scheduled');
      assert.equal(b.error.code, 'ILLEGAL_TRANSITION');
      await untilStatus(call, pending[0] as string, 'STOPPED');
    });

    it('the transition table of single calls, and their bad input', async () => {
      const p = await deploy(call, idleConfig);
      await untilStatus(call, p, 'PENDING');
      // PENDING: delete refused, config change allowed, stop allowed.
      const pendingDelete = await call('DELETE', `${DEPLOYMENTS}/${p}`);
      refused(pendingDelete, 412, 'ILLEGAL_TRANSITION');
      // Told of the deployment by its own id, not of the engine's endpoint behind it.
      assert.equal(pendingDelete.body.error.message, `Cannot delete deployment ${p}: stop it first.`);
      assert.equal((await call('PATCH', `${DEPLOYMENTS}/${p}`, { configurationId: otherConfig })).status, 202);
      // Bad input: both fields, other targets, unknown fields, a bad id, no group, an empty body.
      refused(await call('PATCH', `${DEPLOYMENTS}/${p}`, { targetStatus: 'STOPPED', configurationId: idleConfig }), 400);
      for (const targetStatus of ['DELETED', 'PENDING', 'stopped', 'COMPLETED', 1]) refused(await call('PATCH', `${DEPLOYMENTS}/${p}`, { targetStatus }), 400);
      refused(await call('PATCH', `${DEPLOYMENTS}/${p}`, { targetStatus: 'STOPPED', force: true }), 400);
      refused(await call('PATCH', `${DEPLOYMENTS}/${p}`, {}), 400);
      for (const bad of ['ab', 'a%20b', 'x'.repeat(65), 'a$b']) {
        refused(await call('PATCH', `${DEPLOYMENTS}/${bad}`, { targetStatus: 'STOPPED' }), 400);
        refused(await call('DELETE', `${DEPLOYMENTS}/${bad}`), 400);
      }
      refused(await call('PATCH', `${DEPLOYMENTS}/${p}`, { targetStatus: 'STOPPED' }, { group: null }), 400);
      refused(await call('DELETE', `${DEPLOYMENTS}/${p}`, undefined, { group: null }), 400);
      // Another resource group's and another account's deployment: not found.
      assert.equal((await call('POST', '/v2/admin/resourceGroups', { resourceGroupId: 'elsewhere' }, { group: null })).status, 202);
      refused(await call('PATCH', `${DEPLOYMENTS}/${p}`, { targetStatus: 'STOPPED' }, { group: 'elsewhere' }), 404, 'DEPLOYMENT_NOT_FOUND');
      refused(await call('DELETE', `${DEPLOYMENTS}/${p}`, undefined, { group: 'elsewhere' }), 404, 'DEPLOYMENT_NOT_FOUND');
      const stranger = await setUp(g, 'stranger', []);
      refused(await stranger.call('PATCH', `${DEPLOYMENTS}/${p}`, { targetStatus: 'STOPPED' }), 404, 'DEPLOYMENT_NOT_FOUND');
      refused(await stranger.call('DELETE', `${DEPLOYMENTS}/${p}`), 404, 'DEPLOYMENT_NOT_FOUND');
      const theirs = await stranger.call('PATCH', DEPLOYMENTS, { deployments: [{ id: p, targetStatus: 'STOPPED' }] }, MERGE_PATCH);
      assert.equal(theirs.status, 202, theirs.text);
      assert.equal(theirs.body.deployments[0].error.code, 'DEPLOYMENT_NOT_FOUND');
      assert.equal(await statusOf(call, p), 'PENDING');

      assert.equal((await stop(call, p)).status, 202);
      await untilStatus(call, p, 'STOPPED');
      // STOPPED: stop and config change refused, delete allowed.
      refused(await stop(call, p), 412, 'ILLEGAL_TRANSITION');
      refused(await call('PATCH', `${DEPLOYMENTS}/${p}`, { configurationId: idleConfig }), 412, 'ILLEGAL_TRANSITION');
      const del = await call('DELETE', `${DEPLOYMENTS}/${p}`);
      assert.equal(del.status, 202, del.text);
      assert.equal(del.body.message, 'Deployment deletion scheduled');
      // Removing its stopped workers is bookkeeping: it reads STOPPED until it is gone, never STOPPING again.
      const seen = new Set<string>();
      await until('404 after delete', async () => {
        const r = await call('GET', `${DEPLOYMENTS}/${p}`);
        if (r.status === 200) seen.add(r.body.status as string);
        return r.status === 404;
      });
      assert.deepEqual(
        [...seen].filter((x) => x !== 'STOPPED'),
        [],
        'no status after STOPPED but STOPPED',
      );

      // DEAD: its worker exits at once. Stop refused (nothing runs), delete allowed.
      const dead = await deploy(call, await configuration(call, 'crash-model', 'bulk-test'));
      await untilStatus(call, dead, 'DEAD', 60_000);
      refused(await stop(call, dead), 412, 'ILLEGAL_TRANSITION');
      assert.equal((await call('DELETE', `${DEPLOYMENTS}/${dead}`)).status, 202);
      await until('404 after delete', async () => (await call('GET', `${DEPLOYMENTS}/${dead}`)).status === 404);
    });

    it('a stop finishes the 20 requests it accepted (in flight and queued) and refuses new ones at once', async () => {
      const chat = await configuration(call, 'azure-openai', 'foundation-models', [
        { key: 'thinkMs', value: '1500' },
        { key: 'examplesDir', value: EXAMPLES_DIR },
      ]);
      const id = await deploy(call, chat);
      await untilStatus(call, id, 'RUNNING', 60_000);
      // RUNNING: delete refused.
      refused(await call('DELETE', `${DEPLOYMENTS}/${id}`), 412, 'ILLEGAL_TRANSITION');

      // The worker takes requests until its estimated wait passes the endpoint's max_queue_time (a plain-HTTP
      // worker's wait is its requests in flight); beyond that the gateway queues them. AI Core has no knob for
      // it, the engine does: through the Vast API (one engine), 4 in flight at the worker, the rest queued.
      const eps = await g.api('GET', '/api/v0/endptjobs/', undefined, { key });
      const ep = (eps.body.results as { id: number; endpoint_name: string }[]).find((e) => e.endpoint_name === `deployment-${id}`);
      assert.ok(ep !== undefined, eps.text);
      assert.equal((await g.api('PUT', `/api/v0/endptjobs/${ep.id}/`, { max_queue_time: 4 }, { key })).status, 200);

      const ask = (text: string): ReturnType<Lm> =>
        call('POST', `/v2/inference/deployments/${id}/chat/completions`, { messages: [{ role: 'user', content: text }] });
      const answers = Promise.all(Array.from({ length: 20 }, (_, i) => ask(`question ${i}`)));
      // All 20 held by the gateway (in flight at the worker or queued) before the stop.
      const held = await until('20 requests held', async () => {
        const r = (await call('GET', `${DEPLOYMENTS}/${id}`)).body.statusDetails?.requests;
        return r !== undefined && r.queued + r.inFlight === 20 && r.inFlight > 0 ? r : null;
      });
      assert.ok(held.inFlight > 0 && held.queued > 0, JSON.stringify(held));
      const stopped = await stop(call, id);
      assert.equal(stopped.status, 202, stopped.text);
      assert.equal(stopped.body.message, 'Deployment modification scheduled');
      // STOPPING: a second stop and a delete are refused; a new request is refused at once, with a JSON error.
      assert.equal(await statusOf(call, id), 'STOPPING');
      refused(await stop(call, id), 412, 'ILLEGAL_TRANSITION');
      refused(await call('DELETE', `${DEPLOYMENTS}/${id}`), 412, 'ILLEGAL_TRANSITION');
      const t0 = Date.now();
      const late = await ask('too late');
      assert.ok(Date.now() - t0 < 1000, `the late request took ${Date.now() - t0} ms`);
      assert.ok(late.status >= 400 && late.status < 600, late.text);
      assert.equal(typeof late.body.error?.code, 'string', late.text);

      const all = await answers;
      for (const [i, r] of all.entries()) {
        assert.equal(r.status, 200, `request ${i}: ${r.text}`);
        assert.equal(r.body.choices[0].message.content, [...`question ${i}`].reverse().join(''));
      }
      await untilStatus(call, id, 'STOPPED');
      assert.equal((await call('DELETE', `${DEPLOYMENTS}/${id}`)).status, 202);
      // The stop is audited; the deployment's 21 inference calls, its data path, are not (a row each, for good).
      const audit = (await g.api('GET', '/api/v0/audit_logs/?limit=500', undefined, { key })).body as { method: string; path: string }[];
      assert.ok(
        audit.some((r) => r.method === 'PATCH' && r.path.endsWith(`/deployments/${id}`)),
        JSON.stringify(audit.slice(0, 3)),
      );
      assert.deepEqual(
        audit.filter((r) => r.path.startsWith('/v2/inference/')),
        [],
      );
    });
  });

  describe(`AI Core stop and delete of an UNKNOWN deployment (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let call: Lm;
    let config: string;

    before(async () => {
      // No pass of the serverless loop: a new deployment stays UNKNOWN (a create asks for a pass at once).
      g = await startTestGantry(ts, { settings: { ...SERVERLESS_FAST, autoscaleIntervalMs: 600_000, workerReportStaleMs: 1_200_000 } });
      await g.control.serverlessLoop.stop();
      call = (await setUp(g, 'early', [{ name: 'idle.yaml', content: idleTemplate() }])).call;
      config = await configuration(call, 'idle-model', 'bulk-test');
    });
    after(() => g.dispose());

    it('stop refused, config change refused, delete allowed, singly and in bulk', async () => {
      const [a, b, c] = [await deploy(call, config), await deploy(call, config), await deploy(call, config)];
      for (const id of [a, b, c]) assert.equal(await statusOf(call, id), 'UNKNOWN');
      refused(await stop(call, a), 412, 'ILLEGAL_TRANSITION');
      // Refused as the deployment's, by its id, not as its endpoint's (an id the caller never saw).
      const change = await call('PATCH', `${DEPLOYMENTS}/${a}`, { configurationId: config });
      refused(change, 412, 'ILLEGAL_TRANSITION');
      assert.match(change.body.error.message, new RegExp(`^Cannot reconfigure deployment ${a}: `), change.text);
      assert.equal(change.body.error.details.deploymentId, a, change.text);
      assert.equal((await call('DELETE', `${DEPLOYMENTS}/${a}`)).status, 202);
      const r = await bulk(call, [
        { id: b, targetStatus: 'DELETED' },
        { id: c, targetStatus: 'STOPPED' },
      ]);
      assert.equal(r.status, 202, r.text);
      assert.equal(r.body.deployments[0].message, 'Deployment deletion scheduled');
      assert.equal(r.body.deployments[1].error.code, 'ILLEGAL_TRANSITION');
      assert.equal(await statusOf(call, c), 'UNKNOWN');
    });
  });
}
