import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { Client } from '@elastic/elasticsearch';
import { tinyClassifier } from '../fixtures/onnx/models.js';
import { esClient, esRaw } from '../helpers/elastic.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { ONE_STORE_PG } from '../helpers/stores.js';
import { CLASSIFICATION, uploadModel } from '../helpers/elastic-models.js';

const classifier = tinyClassifier({ labels: 3, hidden: 8, seed: 41 });

/** Elasticsearch's stop (reference B3) over real inference workers made slow with Gantry's delay knob. */
for (const ts of ONE_STORE_PG)
  describe(`Elasticsearch deployment stop (${ts.name})`, { skip: ts.skip, timeout: 600_000 }, () => {
    let g: TestGantry;
    let c: Client;
    before(async () => {
      g = await startTestGantry(ts, { gpus: '4x RTX 4090:24GB', settings: SERVERLESS_FAST });
      c = esClient(g);
      await uploadModel(c, 'slow', classifier, CLASSIFICATION);
    });
    after(async () => {
      await g.dispose();
    });

    const start = async (id: string, delayMs: number): Promise<void> => {
      const r = await esRaw(g, 'POST', `/_ml/trained_models/slow/deployment/_start?deployment_id=${id}&gantry_inference_delay_ms=${delayMs}&timeout=120s`);
      assert.equal(r.status, 200, r.text);
    };
    const infer = async (id: string): Promise<number> => {
      const r = await esRaw(g, 'POST', `/_ml/trained_models/${id}/_infer?timeout=120s`, {
        body: JSON.stringify({ docs: [{ text_field: 'hello' }] }),
        contentType: 'application/json',
      });
      done++;
      return r.status;
    };
    /** Answers received so far (a request answered before the stop is not the stop's). */
    let done = 0;
    /** Wait until the gateway holds n requests of the deployment (in flight and queued). */
    const held = async (id: string, n: number): Promise<void> => {
      const admin = await g.control.authenticate(g.adminKey);
      const d = await g.control.ml.deployment(admin, id);
      assert.ok(d);
      await until(
        `${n} requests held`,
        async () => {
          const p = g.control.ctx.traffic.pending(d.view.endpoint.id);
          return p.queued + p.inFlight + done >= n;
        },
        60_000,
      );
    };
    const stop = (id: string, query = ''): Promise<{ status: number; body: any; headers: Headers }> =>
      esRaw(g, 'POST', `/_ml/trained_models/${id}/deployment/_stop${query}`);
    const count = (xs: number[], x: number): number => xs.filter((y) => y === x).length;

    it('default stop: the request in flight answers, queued ones get 429, and the stop says how many', async () => {
      await start('d-default', 1000);
      done = 0;
      const reqs = Array.from({ length: 30 }, () => infer('d-default'));
      await held('d-default', 30);
      const before = done;
      const s = await stop('d-default');
      assert.equal(s.status, 200, JSON.stringify(s.body));
      const got = await Promise.all(reqs);
      assert.equal(count(got, 200) + count(got, 429), 30, JSON.stringify(got));
      assert.ok(count(got, 429) >= 1, JSON.stringify(got));
      assert.equal(s.body.stopped, true);
      assert.equal(s.body.gantry.rejected, count(got, 429));
      // A request may finish between reading `done` and the stop taking hold: counted neither before nor as drained.
      assert.ok(s.body.gantry.drained + before <= count(got, 200), JSON.stringify({ body: s.body, before, got }));
      assert.match(s.headers.get('warning') ?? '', /^299 Elasticsearch-9\.1\.0 ".*rejected/);
      assert.equal(await infer('d-default'), 404, 'gone after the stop: an unknown id');
      assert.equal(await infer('slow'), 409, 'the model is no longer deployed');
    });

    it('finish_pending_work=true answers all 30; with timeout=1s, what is still queued then gets 429 as a plain stop gives', async () => {
      await start('d-drain', 50);
      done = 0;
      const all = Array.from({ length: 30 }, () => infer('d-drain'));
      await held('d-drain', 30);
      const stopping = esRaw(g, 'POST', '/_ml/trained_models/d-drain/deployment/_stop', {
        body: JSON.stringify({ finish_pending_work: true }),
        contentType: 'application/json',
      });
      // A new call while it drains: Elasticsearch's 409 and words, whichever part of Gantry refuses it.
      await until(
        'the deployment stopping',
        async () => (await g.control.ml.deployment(await g.control.authenticate(g.adminKey), 'd-drain'))?.state === 'stopping',
      );
      const late = await esRaw(g, 'POST', '/_ml/trained_models/d-drain/_infer', {
        body: JSON.stringify({ docs: [{ text_field: 'late' }] }),
        contentType: 'application/json',
      });
      if (late.status !== 404) {
        assert.equal(late.status, 409, late.text);
        assert.equal(late.body.error.reason, 'Trained model [d-drain] is [stopping]');
      }
      // Its nodes read stopping too (B4's routing states), while the drain lasts.
      const stats = await esRaw(g, 'GET', '/_ml/trained_models/slow/_stats');
      const dep = (stats.body.trained_model_stats as any[]).find((x) => x.deployment_stats?.deployment_id === 'd-drain')?.deployment_stats;
      if (dep?.state === 'stopping') for (const n of dep.nodes as any[]) assert.equal(n.routing_state.routing_state, 'stopping', JSON.stringify(n));
      const s = await stopping;
      assert.equal(s.status, 200, s.text);
      assert.deepEqual(await Promise.all(all), Array(30).fill(200));
      assert.deepEqual([s.body.gantry.failed, s.body.gantry.rejected], [0, 0]);

      await start('d-cut', 1000);
      done = 0;
      const some = Array.from({ length: 30 }, () => infer('d-cut'));
      await held('d-cut', 30);
      const early = done;
      const cut = await stop('d-cut', '?finish_pending_work=true&timeout=1s');
      assert.equal(cut.status, 200, JSON.stringify(cut.body));
      const got = await Promise.all(some);
      const answered = count(got, 200);
      const { drained, failed, rejected } = cut.body.gantry;
      assert.equal(early + drained + failed + rejected, 30, JSON.stringify(cut.body));
      assert.equal(early + drained, answered, JSON.stringify(got));
      // Queued when the drain ran out: rejected (429, rejected_execution_count); in flight then: failed (409).
      assert.ok(rejected >= 1, JSON.stringify(cut.body));
      assert.deepEqual([count(got, 429), count(got, 409)], [rejected, failed], JSON.stringify(got));
      assert.match(cut.headers.get('warning') ?? '', new RegExp(`failed ${failed} and rejected ${rejected} pending`));
    });

    it('a second stop with timeout=0s ends a long drain now (force does not): what is still queued gets 429, and both answer', async () => {
      await start('d-cut-now', 3000);
      done = 0;
      const some = Array.from({ length: 30 }, () => infer('d-cut-now'));
      await held('d-cut-now', 30);
      const early = done;
      // Thirty requests of 3 s each on one worker: a drain of a minute and a half, bounded by ten minutes here.
      const draining = stop('d-cut-now', '?finish_pending_work=true&timeout=10m');
      const admin = await g.control.authenticate(g.adminKey);
      await until('the deployment stopping', async () => (await g.control.ml.deployment(admin, 'd-cut-now'))?.state === 'stopping');
      // force keeps Elasticsearch's meaning (stop though pipelines name it); a timeout bounds the stop under way anew.
      const forced = stop('d-cut-now', '?force=true');
      await new Promise((r) => setTimeout(r, 500));
      assert.equal(g.control.ctx.traffic.pending((await g.control.ml.deployment(admin, 'd-cut-now'))!.view.endpoint.id).queued > 0, true, 'still draining');
      // The cut through the official client, as a user sends it: the client has no `timeout` parameter for a stop, so
      // it goes in the body, which the dialect reads as the query.
      const viaClient = await c.ml.stopTrainedModelDeployment({ model_id: 'd-cut-now', body: { timeout: '0s' } }, { meta: true });
      const cut = { status: viaClient.statusCode ?? 0, body: viaClient.body as any };
      assert.equal(cut.status, 200, JSON.stringify(cut.body));
      const answers = [cut, await forced, await draining];
      assert.deepEqual(
        answers.map((a) => a.status),
        [200, 200, 200],
      );
      const got = await Promise.all(some);
      assert.ok(count(got, 429) >= 1, `the queue was cut, not drained: ${JSON.stringify(got)}`);
      assert.equal(count(got, 200) + count(got, 429) + count(got, 409), 30, JSON.stringify(got));
      // Every call that waited on the stop answers its counts, whichever of them deleted the deployment first (the
      // delete keeps them). The forced one was sent only 500 ms before the cut: on a loaded machine it may arrive
      // after the deletion, and answer as a stop of a deployment gone does.
      const counted = cut.body.gantry;
      assert.deepEqual((await draining).body.gantry, counted);
      assert.deepEqual([counted.rejected, counted.failed], [count(got, 429), count(got, 409)], JSON.stringify(counted));
      // A request may finish between reading `done` and the stop taking hold: counted neither before nor as drained.
      assert.ok(early + counted.drained <= count(got, 200), JSON.stringify({ counted, early, got }));
    });

    it("a stop of a deployment another API stopped already answers none of that stop's counts", async () => {
      await start('d-vast', 1000);
      done = 0;
      const reqs = Array.from({ length: 10 }, () => infer('d-vast'));
      await held('d-vast', 10);
      const admin = await g.control.authenticate(g.adminKey);
      const id = (await g.control.ml.deployment(admin, 'd-vast'))!.view.deployment.id;
      assert.equal((await g.api('POST', `/api/v0/deployment/${id}/stop/`)).status, 200);
      assert.ok(count(await Promise.all(reqs), 200) < 10, 'the Vast stop refused what was queued');
      await until('stopped', async () => (await g.api('GET', `/api/v0/deployment/${id}/`)).body.deployment.gantry_status === 'stopped');
      // Its workers kept their temporary files (onnxruntime's log among them) in their own disk's .tmp, not the host's /tmp.
      const ep = (await g.api('GET', `/api/v0/deployment/${id}/`)).body.deployment.endpoint_id as number;
      const ws = (await g.api('POST', '/get_endpoint_workers/', { id: ep })).body as { id: number }[];
      assert.ok(ws.length > 0);
      for (const w of ws) assert.ok(existsSync(join(g.dataDir, 'instances', String(w.id), 'disk', '.tmp')), `worker ${w.id}`);
      const s = await stop('d-vast');
      assert.equal(s.status, 200, JSON.stringify(s.body));
      assert.deepEqual(s.body.gantry, { stopped: ['d-vast'], drained: 0, failed: 0, rejected: 0 });
      assert.equal(s.headers.get('warning'), null);
    });

    it('inference is not audited (its data path: a row each would grow the log by the request rate); a stop is', async () => {
      const audit = (await g.api('GET', '/api/v0/audit_logs/?limit=1000')).body as { method: string; path: string }[];
      assert.ok(
        audit.some((r) => r.method === 'POST' && r.path.includes('/deployment/_stop')),
        JSON.stringify(audit.slice(0, 3)),
      );
      assert.deepEqual(
        audit.filter((r) => r.path.includes('_infer')),
        [],
      );
    });

    it('allow_no_match, body id, and patterns only with expand_wildcards', async () => {
      assert.deepEqual((await stop('nope')).body, { stopped: true, gantry: { stopped: [], drained: 0, failed: 0, rejected: 0 } });
      const strict = await stop('nope', '?allow_no_match=false');
      assert.equal(strict.status, 404);
      assert.equal(strict.body.error.type, 'resource_not_found_exception');
      assert.equal(strict.body.error.reason, 'No known model deployment with id [nope]');
      const bodyId = await esRaw(g, 'POST', '/_ml/trained_models/a/deployment/_stop', { body: JSON.stringify({ id: 'b' }), contentType: 'application/json' });
      assert.equal(bodyId.status, 400);

      await start('w-1', 0);
      await start('w-2', 0);
      assert.deepEqual((await stop('w-*')).body.gantry.stopped, [], 'a pattern is an exact id without expand_wildcards');
      assert.equal((await stop('w-*', '?allow_no_match=false')).status, 404);
      const both = await stop('w-*', '?expand_wildcards=true');
      assert.equal(both.status, 200);
      assert.deepEqual([...both.body.gantry.stopped].sort(), ['w-1', 'w-2']);
    });
  });
