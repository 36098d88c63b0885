import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/store/store.js';
import { tinyClassifier } from '../fixtures/onnx/models.js';
import { esClient, esRaw } from '../helpers/elastic.js';
import { CLASSIFICATION, uploadModel } from '../helpers/elastic-models.js';
import { startTestGantry, type ApiResponse, type TestGantry } from '../helpers/gantry.js';
import { hookStoreOnce } from '../helpers/store-hook.js';
import { SERVERLESS_FAST, until } from '../helpers/serverless.js';
import { TEST_STORES } from '../helpers/stores.js';
import { illegal, recordTransitions, type Transition } from '../helpers/transitions.js';

const classifier = tinyClassifier({ labels: 3, hidden: 8, seed: 61 });
const SHARED = { ...SERVERLESS_FAST, adminKey: 'gnt_elastic_stop_races_admin', secret: 'elastic-stop-races-secret' };
const json = (body: unknown) => ({ body: JSON.stringify(body), contentType: 'application/json' });

/**
 * Elasticsearch deployment calls that conflict, sent at the same moment: an `_update` that a stop overtakes, and a
 * drain (finish_pending_work) that a forced stop, a `_start` and an `_update` of the same deployment arrive during, and
 * one a forced delete of its model arrives during (on PostgreSQL through a second replica).
 */
for (const ts of TEST_STORES)
  describe(`Elasticsearch stop, update and start at once (${ts.name})`, { skip: ts.skip, timeout: 300_000 }, () => {
    let g: TestGantry;
    let b: TestGantry;
    let real: Store;
    const seen: { transitions: Transition[]; restore(): void }[] = [];
    before(async () => {
      g = await startTestGantry(ts, { gpus: '2x RTX 4090:24GB', settings: SHARED });
      b = ts.name === 'postgres' ? await startTestGantry(ts, { database: g.database, localHost: false, settings: SHARED }) : g;
      real = g.control.ctx.store;
      await uploadModel(esClient(g), 'm', classifier, CLASSIFICATION);
    });
    after(async () => {
      (g.control.ctx as { store: Store }).store = real;
      for (const r of seen) r.restore();
      if (b !== g) await b.dispose();
      await g.dispose();
    });

    const post = (path: string, body?: unknown) => esRaw(g, 'POST', path, body === undefined ? {} : json(body));
    const endpointOf = async (id: string) => (await g.control.ml.deployment(await g.control.authenticate(g.adminKey), id))?.view.endpoint;
    const stopping = (id: string) => until(`${id} stopping`, async () => (await endpointOf(id))?.status === 'stopping', 60_000);
    /** A deployment of `model` whose one request is held at its worker (3 s), then a drain begun: both answers to come. */
    const drainWithHeld = async (model: string, id: string) => {
      const s = await post(`/_ml/trained_models/${model}/deployment/_start?deployment_id=${id}&wait_for=started&timeout=120s&gantry_inference_delay_ms=3000`);
      assert.equal(s.status, 200, s.text);
      const infer = post(`/_ml/trained_models/${id}/_infer`, { docs: [{ text_field: 'held' }] });
      await until('the request in flight', async () => {
        const st = (await esRaw(g, 'GET', `/_ml/trained_models/${model}/_stats`)).body?.trained_model_stats?.find(
          (x: any) => x.deployment_stats?.deployment_id === id,
        );
        return (st?.deployment_stats?.nodes?.[0]?.number_of_pending_requests ?? 0) > 0;
      });
      const drain = post(`/_ml/trained_models/${id}/deployment/_stop?finish_pending_work=true&timeout=60s`);
      await stopping(id);
      return { infer, drain };
    };
    /**
     * The control plane's store, until `restore`: the first call of `method` with `arg` once the endpoint reads
     * stopped starts the deployment through the Vast API before it runs.
     */
    const startWhenStopped = (epId: number, depId: number, method: keyof Store, arg?: unknown) => {
      const out = { vast: null as ApiResponse | null, fired: false, restore: () => void ((g.control.ctx as { store: Store }).store = real) };
      (g.control.ctx as { store: Store }).store = new Proxy({} as Store, {
        get: (_, k) => {
          const fn = (Reflect.get(real, k) as (...x: unknown[]) => Promise<unknown>).bind(real);
          if (k !== method) return fn;
          return async (...x: unknown[]) => {
            if (!out.fired && (arg === undefined || x[0] === arg) && (await real.getEndpoint(epId))?.status === 'stopped') {
              out.fired = true;
              out.vast = await g.api('POST', `/api/v0/deployment/${depId}/start/`, {});
            }
            return fn(...x);
          };
        },
      });
      return out;
    };

    it('an _update a stop overtakes after its state check is refused 409, and leaves the bounds as they were', async () => {
      const s = await post('/_ml/trained_models/m/deployment/_start?deployment_id=upd&wait_for=started&timeout=120s');
      assert.equal(s.status, 200, s.text);
      const bounds = (await endpointOf('upd'))?.params;
      let stop: Promise<{ status: number; text: string }> | null = null;
      const restore = hookStoreOnce(g, real, 'reconfigureEndpoint', async () => {
        stop = post('/_ml/trained_models/upd/deployment/_stop');
        await stopping('upd');
      });
      let upd;
      try {
        upd = await post('/_ml/trained_models/upd/deployment/_update', { number_of_allocations: 2 });
      } finally {
        restore();
      }
      // Before: the update's write checked only the bounds it read, so it landed on the stopping deployment and answered 200.
      assert.equal(upd.status, 409, upd.text);
      assert.equal(upd.body.error.type, 'status_exception', upd.text);
      assert.equal(upd.body.error.reason, 'cannot update deployment that is not in [started] state');
      const stopped = await (stop as unknown as Promise<{ status: number; text: string }>);
      assert.equal(stopped.status, 200, stopped.text);
      const ep = await until('the stopped deployment gone', async () => {
        const e = await real.findEndpointByName((await g.control.authenticate(g.adminKey)).accountId, 'upd');
        return e === undefined ? ('gone' as const) : null;
      });
      assert.equal(ep, 'gone');
      assert.ok(bounds !== undefined);
    });

    it('during a drain: a forced stop waits for it and answers 200, a _start and an _update are 409, the held request is answered', async () => {
      const { infer, drain } = await drainWithHeld('m', 'dr');
      const [forced, start, upd] = await Promise.all([
        post('/_ml/trained_models/dr/deployment/_stop?force=true'),
        post('/_ml/trained_models/m/deployment/_start?deployment_id=dr&wait_for=starting'),
        post('/_ml/trained_models/dr/deployment/_update', { number_of_allocations: 2 }),
      ]);
      const [drained, answered] = await Promise.all([drain, infer]);
      assert.equal(answered.status, 200, answered.text);
      assert.equal(drained.status, 200, drained.text);
      assert.equal(forced.status, 200, forced.text);
      assert.equal(start.status, 409, start.text);
      assert.equal(upd.status, 409, upd.text);
      for (const r of [start, upd]) assert.equal(typeof r.body.error.reason, 'string', r.text);
      const st = await esRaw(g, 'GET', '/_ml/trained_models/dr/_stats');
      assert.equal(st.status, 404, st.text);
    });

    it('a drain that a forced delete of its model arrives during: both 200, the held request answered, the statuses legal', async () => {
      for (const x of b === g ? [g] : [g, b]) seen.push(recordTransitions(x));
      await uploadModel(esClient(g), 'm2', classifier, CLASSIFICATION);
      const { infer, drain } = await drainWithHeld('m2', 'dd');
      const del = await esRaw(b, 'DELETE', '/_ml/trained_models/m2?force=true&timeout=60s');
      const [drained, answered] = await Promise.all([drain, infer]);
      assert.equal(del.status, 200, del.text);
      assert.equal(del.body.acknowledged, true, del.text);
      assert.equal(drained.status, 200, drained.text);
      assert.equal(answered.status, 200, answered.text);
      assert.equal((await esRaw(b, 'GET', '/_ml/trained_models/m2')).status, 404);
      assert.equal((await esRaw(g, 'GET', '/_ml/trained_models/dd/_stats')).status, 404);
      assert.deepEqual(illegal(seen.flatMap((r) => r.transitions)), []);
    });

    it('two starts of one deployment id at once, one per replica: one 200, one 409, one deployment runs', async () => {
      const start = (r: TestGantry) => esRaw(r, 'POST', '/_ml/trained_models/m/deployment/_start?deployment_id=twice&wait_for=starting', json({}));
      const [x, y] = await Promise.all([start(g), start(b)]);
      assert.deepEqual([x.status, y.status].sort(), [200, 409], `${x.text} ${y.text}`);
      const refused = x.status === 409 ? x : y;
      assert.equal(refused.body.error.type, 'status_exception', refused.text);
      const accountId = (await g.control.authenticate(g.adminKey)).accountId;
      const live = (await real.listEndpoints(accountId)).filter((e) => e.name === 'twice' && e.status !== 'deleted');
      assert.equal(live.length, 1);
      assert.equal((await post('/_ml/trained_models/twice/deployment/_stop')).status, 200);
    });

    it('a start waiting for its allocations that a stop through the Vast API overtakes is answered 409 at once, not at its timeout', async () => {
      // Three allocations on two GPUs: the start waits for the third one until its timeout.
      const waiting = post('/_ml/trained_models/m/deployment/_start?deployment_id=sw&number_of_allocations=3&wait_for=fully_allocated&timeout=600s');
      const ep = await until('the deployment made', async () => await endpointOf('sw'));
      const dep = (await real.findDeploymentByEndpoint(ep.id))!;
      await until('a worker ready', async () => ((await g.control.ml.deployment(await g.control.authenticate(g.adminKey), 'sw'))?.allocations ?? 0) > 0);
      assert.equal((await g.api('POST', `/api/v0/deployment/${dep.id}/stop/`)).status, 200);
      const answer = await waiting;
      // Before: it waited the whole 600 s, then answered 408 "it keeps starting".
      assert.equal(answer.status, 409, answer.text);
      assert.equal(answer.body.error.type, 'status_exception', answer.text);
      assert.match(answer.body.error.reason as string, /was stopped while this start waited for it to be \[fully_allocated\]/);
      assert.equal((await post('/_ml/trained_models/sw/deployment/_stop?force=true')).status, 200);
    });

    it('a start through the Vast API between the stop reaching stopped and its delete: the stop answers 200, nothing is left', async () => {
      const st = await post('/_ml/trained_models/m/deployment/_start?deployment_id=xd&wait_for=started&timeout=120s');
      assert.equal(st.status, 200, st.text);
      const ep = (await endpointOf('xd'))!;
      const dep = (await real.findDeploymentByEndpoint(ep.id))!;
      // Only calls read a deployment by id (never a loop): once it is stopped, the one that reads it is the stop's
      // delete, and the start runs first.
      const hook = startWhenStopped(ep.id, dep.id, 'getDeployment');
      let stop;
      try {
        stop = await post('/_ml/trained_models/xd/deployment/_stop');
      } finally {
        hook.restore();
      }
      const started = hook.vast;
      assert.equal(started?.status, 200, started?.text);
      // Before: 409 "Cannot delete deployment N: stop it first." to a caller who had asked only to stop.
      assert.equal(stop.status, 200, stop.text);
      assert.equal(stop.body.stopped, true);
      await until('gone', async () => (await real.getEndpoint(ep.id))?.status === 'deleted');
      assert.equal((await esRaw(g, 'GET', '/_ml/trained_models/xd/_stats')).status, 404);
    });

    it('a start through the Vast API as soon as the stop reached stopped, before the stop read it: the stop answers, nothing is left', async () => {
      const st = await post('/_ml/trained_models/m/deployment/_start?deployment_id=xw&wait_for=started&timeout=120s');
      assert.equal(st.status, 200, st.text);
      const ep = (await endpointOf('xw'))!;
      const dep = (await real.findDeploymentByEndpoint(ep.id))!;
      // The first read of the endpoint once stopped (the stop's, or a pass's): the start goes before it.
      const hook = startWhenStopped(ep.id, dep.id, 'getEndpoint', ep.id);
      let stop;
      try {
        // Bounded here: before, the stop waited for a stopped it would never see again (for STOP_BOUND_MS, 5 minutes).
        stop = await Promise.race([
          post('/_ml/trained_models/xw/deployment/_stop'),
          new Promise<{ status: number; text: string; body: any }>((r) =>
            setTimeout(() => r({ status: -1, text: 'still waiting after 60 s', body: null }), 60_000),
          ),
        ]);
      } finally {
        hook.restore();
      }
      assert.equal(hook.fired, true);
      const started = hook.vast;
      assert.equal(started?.status, 200, started?.text);
      assert.equal(stop.status, 200, stop.text);
      assert.equal(stop.body.stopped, true);
      await until('gone', async () => (await real.getEndpoint(ep.id))?.status === 'deleted');
      assert.equal((await esRaw(g, 'GET', '/_ml/trained_models/xw/_stats')).status, 404);
    });
  });
