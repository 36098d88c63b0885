import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { errors, type Client } from '@elastic/elasticsearch';
import { definitionChunks } from '../../src/control/ml/models.js';
import { pipelinesReferencing } from '../../src/control/ml/pipelines.js';
import { DEFAULT_ENDPOINT_PARAMS } from '../../src/domain/serverless/params.js';
import { modelGrant, workerToken } from '../../src/control/keys.js';
import { GantryError } from '../../src/domain/errors.js';
import { minimalOnnx } from '../fixtures/onnx/minimal.js';
import { esClient, esRaw } from '../helpers/elastic.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { machineReg } from '../helpers/machines.js';
import { TEST_STORES } from '../helpers/stores.js';

const EMBEDDING = { text_embedding: { tokenization: { bert: { do_lower_case: true, max_sequence_length: 16 } } } };

/** The ES status and error type of a rejected client call. */
async function refused(p: Promise<unknown>): Promise<{ status: number; type: string; reason: string }> {
  try {
    await p;
  } catch (e) {
    assert.ok(e instanceof errors.ResponseError, String(e));
    const body = e.body as { error: { type: string; reason: string } };
    return { status: e.meta.statusCode ?? 0, type: body.error.type, reason: body.error.reason };
  }
  assert.fail('the call was not refused');
}

/** Upload `bytes` in parts of `partBytes`, in the order given by `order` (default ascending). */
async function upload(c: Client, modelId: string, bytes: Uint8Array, partBytes: number, order?: number[]): Promise<void> {
  const total = Math.ceil(bytes.length / partBytes);
  for (const i of order ?? [...Array(total).keys()]) {
    const part = Buffer.from(bytes.subarray(i * partBytes, Math.min(bytes.length, (i + 1) * partBytes))).toString('base64');
    await c.ml.putTrainedModelDefinitionPart({ model_id: modelId, part: i, definition: part, total_definition_length: bytes.length, total_parts: total });
  }
}

const putModel = (c: Client, id: string, extra: Record<string, unknown> = {}) =>
  c.ml.putTrainedModel({ model_id: id, model_type: 'onnx' as 'pytorch', inference_config: EMBEDDING, input: { field_names: ['text_field'] }, ...extra });

describe('definition chunks are read one part at a time', () => {
  it('asks the store for part i+1 only after part i was consumed', async () => {
    const reads: number[] = [];
    const store = {
      readModelPart: (_a: number, _m: string, i: number) => {
        reads.push(i);
        return Promise.resolve(new Uint8Array(4).fill(i));
      },
    };
    let seen = 0;
    for await (const chunk of definitionChunks(store, 1, 'm', 25)) {
      assert.equal(chunk[0], seen);
      assert.deepEqual(reads, [...Array(seen + 1).keys()], 'no part read ahead');
      seen++;
    }
    assert.equal(seen, 25);
  });
});

for (const ts of TEST_STORES) {
  describe(`elastic trained models and pipelines (${ts.name})`, { skip: ts.skip }, () => {
    let g: TestGantry;
    let c: Client;
    let accountId: number;
    const onnx = minimalOnnx({ padBytes: 3000 });

    before(async () => {
      g = await startTestGantry(ts, { localHost: false });
      c = esClient(g);
      accountId = (await g.control.authenticate(g.adminKey)).accountId;
    });
    after(async () => {
      await c.close();
      await g.dispose();
    });

    it('creates an onnx model and answers its config in ES field names', async () => {
      const r = (await putModel(c, 'emb-1', { description: 'tiny', tags: ['nlp', 'test'], metadata: { a: 1 } })) as unknown as Record<string, any>;
      assert.equal(r.model_id, 'emb-1');
      assert.equal(r.model_type, 'onnx');
      assert.deepEqual(r.inference_config, EMBEDDING);
      assert.deepEqual(r.input, { field_names: ['text_field'] });
      assert.deepEqual(r.tags, ['nlp', 'test']);
      assert.deepEqual(r.metadata, { a: 1 });
      assert.equal(r.description, 'tiny');
      assert.equal(r.created_by, 'api_user');
      assert.equal(typeof r.create_time, 'number');
      assert.deepEqual(r.location, { index: { name: '.ml-inference-native-000002' } });
      assert.deepEqual(await refused(putModel(c, 'emb-1')), {
        status: 400,
        type: 'resource_already_exists_exception',
        reason: 'Trained machine learning model [emb-1] already exists',
      });
    });

    it('refuses pytorch with the way to ONNX, other model types, bad ids and unknown tasks', async () => {
      const py = await refused(c.ml.putTrainedModel({ model_id: 'py', model_type: 'pytorch', inference_config: EMBEDDING }));
      assert.equal(py.status, 400);
      assert.match(py.reason, /ONNX/);
      assert.match(py.reason, /docs\/elastic-models\.md/);
      assert.equal((await refused(c.ml.putTrainedModel({ model_id: 'te', model_type: 'tree_ensemble', inference_config: EMBEDDING }))).status, 400);
      for (const id of ['Upper', '-lead', 'trail_', 'a'.repeat(65), '.lead', 'trail.']) {
        const r = await refused(putModel(c, id));
        assert.equal(r.status, 400, id);
        assert.match(r.reason, /Invalid model_id/);
      }
      // Dots inside are Elasticsearch's rule too (MlStrings): Eland names models so.
      assert.equal(((await putModel(c, 'baai__bge-small-en-v1.5')) as unknown as { model_id: string }).model_id, 'baai__bge-small-en-v1.5');
      assert.equal((await c.ml.getTrainedModels({ model_id: 'baai__bge-small-en-v1.5' })).count, 1);
      assert.deepEqual(await c.ml.deleteTrainedModel({ model_id: 'baai__bge-small-en-v1.5' }), { acknowledged: true });
      const task = await refused(putModel(c, 'task', { inference_config: { ner: {} } }));
      assert.equal(task.status, 400);
      assert.match(task.reason, /ner/);
      assert.equal((await refused(putModel(c, 'two', { inference_config: { text_embedding: {}, pass_through: {} } }))).status, 400);
    });

    it('takes definition parts in any order; fully defined once all arrived and the bytes are ONNX', async () => {
      const status = async () =>
        ((await c.ml.getTrainedModels({ model_id: 'emb-1', include: 'definition_status' })).trained_model_configs[0] as any).fully_defined;
      assert.equal(await status(), false);
      const size = Math.ceil(onnx.length / 3);
      await upload(c, 'emb-1', onnx, size, [2, 0]);
      assert.equal(await status(), false);
      // A repeated part replaces the earlier one.
      await upload(c, 'emb-1', onnx, size, [0]);
      assert.equal(await status(), false);
      await upload(c, 'emb-1', onnx, size, [1]);
      assert.equal(await status(), true);
      const m = (await c.ml.getTrainedModels({ model_id: 'emb-1' })).trained_model_configs[0] as any;
      assert.equal(m.fully_defined, undefined, 'only with include=definition_status');
      assert.equal(m.model_size_bytes, onnx.length);
      // Complete, its definition is fixed (Elasticsearch's answer to a part already stored): a refused part changes nothing.
      const junk = Buffer.alloc(929, 7).toString('base64');
      const over = await refused(
        c.ml.putTrainedModelDefinitionPart({ model_id: 'emb-1', part: 0, definition: junk, total_parts: 1, total_definition_length: 929 }),
      );
      assert.deepEqual(over, {
        status: 400,
        type: 'resource_already_exists_exception',
        reason: 'Trained machine learning model chunked doc [emb-1][0] already exists',
      });
      await assert.rejects(upload(c, 'emb-1', onnx, size, [1]), /already exists/, 'not even the same bytes again');
      assert.equal(await status(), true);
    });

    it('a whole definition its check refused takes a corrected part', async () => {
      await putModel(c, 'fix-me');
      const junk = Buffer.alloc(onnx.length, 7).toString('base64');
      const bad = await refused(
        c.ml.putTrainedModelDefinitionPart({ model_id: 'fix-me', part: 0, definition: junk, total_parts: 1, total_definition_length: onnx.length }),
      );
      assert.equal(bad.status, 400);
      assert.match(bad.reason, /ONNX/);
      await upload(c, 'fix-me', onnx, onnx.length);
      const m = (await c.ml.getTrainedModels({ model_id: 'fix-me', include: 'definition_status' })).trained_model_configs[0] as any;
      assert.equal(m.fully_defined, true);
      assert.deepEqual(await c.ml.deleteTrainedModel({ model_id: 'fix-me' }), { acknowledged: true });
    });

    it('refuses bad parts: base64, index, totals, lengths, bytes that are not ONNX', async () => {
      await putModel(c, 'bad-parts');
      const part = (p: number, definition: string, total_parts: number, total_definition_length: number) =>
        refused(c.ml.putTrainedModelDefinitionPart({ model_id: 'bad-parts', part: p, definition, total_parts, total_definition_length }));
      assert.equal((await part(0, 'not base64!!', 2, 10)).status, 400);
      assert.equal((await part(2, 'AAAA', 2, 10)).status, 400);
      assert.equal((await part(0, 'AAAA', 0, 10)).status, 400);
      assert.equal((await part(0, Buffer.alloc(11).toString('base64'), 2, 10)).status, 400);
      await c.ml.putTrainedModelDefinitionPart({ model_id: 'bad-parts', part: 0, definition: 'AAAA', total_parts: 2, total_definition_length: 10 });
      const totals = await part(1, 'AAAA', 3, 10);
      assert.equal(totals.status, 400);
      assert.match(totals.reason, /differ/);
      const sum = await part(1, 'AAAA', 2, 10);
      assert.equal(sum.status, 400);
      assert.match(sum.reason, /total_definition_length/);
      // Bytes of the right length that are no ONNX model: refused, and the model is not fully defined.
      await putModel(c, 'garbage');
      const junk = Buffer.from('this is not an onnx model at all, just text').toString('base64');
      const g1 = await refused(
        c.ml.putTrainedModelDefinitionPart({ model_id: 'garbage', part: 0, definition: junk, total_parts: 1, total_definition_length: 43 }),
      );
      assert.equal(g1.status, 400);
      assert.match(g1.reason, /ONNX/);
      const m = (await c.ml.getTrainedModels({ model_id: 'garbage', include: 'definition_status' })).trained_model_configs[0] as any;
      assert.equal(m.fully_defined, false);
      assert.equal(
        (await refused(c.ml.putTrainedModelDefinitionPart({ model_id: 'nope', part: 0, definition: 'AAAA', total_parts: 1, total_definition_length: 3 })))
          .status,
        404,
      );
    });

    it('stores a vocabulary; an empty one is refused', async () => {
      assert.deepEqual(await c.ml.putTrainedModelVocabulary({ model_id: 'emb-1', vocabulary: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'hello'] }), {
        acknowledged: true,
      });
      assert.equal((await refused(c.ml.putTrainedModelVocabulary({ model_id: 'emb-1', vocabulary: [] }))).status, 400);
      assert.equal((await refused(c.ml.putTrainedModelVocabulary({ model_id: 'nope', vocabulary: ['a'] }))).status, 404);
      assert.equal((await refused(c.ml.putTrainedModelVocabulary({ model_id: 'emb-1', vocabulary: ['a', 'b'], scores: [1] }))).status, 400);
    });

    it('lists by csv, wildcards and _all, with allow_no_match, from/size and tags', async () => {
      await putModel(c, 'cls-a', { tags: ['nlp'] });
      await putModel(c, 'cls-b');
      const ids = async (q: Record<string, unknown>) => (await c.ml.getTrainedModels(q)).trained_model_configs.map((m) => m.model_id);
      assert.deepEqual(await ids({}), ['bad-parts', 'cls-a', 'cls-b', 'emb-1', 'garbage']);
      assert.deepEqual(await ids({ model_id: '_all' }), ['bad-parts', 'cls-a', 'cls-b', 'emb-1', 'garbage']);
      assert.deepEqual(await ids({ model_id: 'cls-*' }), ['cls-a', 'cls-b']);
      assert.deepEqual(await ids({ model_id: 'emb-1,cls-b' }), ['cls-b', 'emb-1']);
      assert.deepEqual(await ids({ model_id: 'zzz*' }), []);
      assert.equal((await refused(c.ml.getTrainedModels({ model_id: 'zzz*', allow_no_match: false }))).status, 404);
      // Elasticsearch names what matched nothing (ExpandedIdsMatcher), not the whole expression.
      const unmatched = async (model_id: string) => (await refused(c.ml.getTrainedModels({ model_id, allow_no_match: false }))).reason;
      assert.equal(await unmatched('emb-1,zzz*'), 'No known trained model with model_id [zzz*]');
      assert.equal(await unmatched('nope,emb-1,zzz*'), 'No known trained model with model_id [nope,zzz*]');
      const st = await esRaw(g, 'GET', '/_ml/trained_models/emb-1,zzz*/_stats?allow_no_match=false');
      assert.equal(st.body.error.reason, 'No known trained model with model_id [zzz*]');
      assert.equal((await refused(c.ml.getTrainedModels({ model_id: 'emb-1,missing' }))).status, 404);
      assert.deepEqual(await ids({ from: 1, size: 2 }), ['cls-a', 'cls-b']);
      assert.equal((await c.ml.getTrainedModels({ from: 1, size: 2 })).count, 5);
      assert.deepEqual(await ids({ tags: 'nlp' }), ['cls-a', 'emb-1']);
      assert.deepEqual(await ids({ tags: ['nlp', 'test'] }), ['emb-1']);
      assert.equal((await refused(c.ml.getTrainedModels({ include: 'definition' }))).status, 400);
      assert.equal((await refused(c.ml.getTrainedModels({ size: -1 }))).status, 400);
    });

    it('pipelines: inference processors only; get by id, csv, pattern; delete', async () => {
      const processors = [{ inference: { model_id: 'cls-a', target_field: 'ml', input_output: [{ input_field: 'body', output_field: 'text_field' }] } }];
      assert.deepEqual(await c.ingest.putPipeline({ id: 'p1', description: 'uses cls-a', processors }), { acknowledged: true });
      await c.ingest.putPipeline({ id: 'p2', processors: [{ inference: { model_id: 'other', field_map: { body: 'text_field' } } }] });
      assert.deepEqual(Object.keys(await c.ingest.getPipeline()), ['p1', 'p2']);
      assert.deepEqual(await c.ingest.getPipeline({ id: 'p1' }), { p1: { description: 'uses cls-a', processors } });
      assert.deepEqual(Object.keys(await c.ingest.getPipeline({ id: 'p*' })), ['p1', 'p2']);
      assert.deepEqual(Object.keys(await c.ingest.getPipeline({ id: 'p2,p1' })), ['p1', 'p2']);
      const missing = await esRaw(g, 'GET', '/_ingest/pipeline/none');
      assert.equal(missing.status, 404);
      assert.deepEqual(missing.body, {});
      const set = await refused(c.ingest.putPipeline({ id: 'bad', processors: [{ set: { field: 'a', value: 1 } }] }));
      assert.equal(set.status, 400);
      assert.equal(set.reason, 'processor type [set] is not supported by Gantry (only inference)');
      assert.equal((await refused(c.ingest.putPipeline({ id: 'bad', processors: [{ inference: {} }] } as never))).status, 400);
      assert.deepEqual(await pipelinesReferencing(g.control.ctx, accountId, 'cls-a'), ['p1']);
      assert.deepEqual(await pipelinesReferencing(g.control.ctx, accountId, 'other'), ['p2']);
      // A model referenced by a pipeline is kept unless forced.
      const inUse = await refused(c.ml.deleteTrainedModel({ model_id: 'cls-a' }));
      assert.equal(inUse.status, 409);
      assert.equal(inUse.type, 'status_exception');
      assert.match(inUse.reason, /\[p1\]/);
      assert.deepEqual(await c.ml.deleteTrainedModel({ model_id: 'cls-a', force: true }), { acknowledged: true });
      assert.deepEqual(await c.ingest.deletePipeline({ id: 'p2' }), { acknowledged: true });
      const gone = await refused(c.ingest.deletePipeline({ id: 'p2' }));
      assert.equal(gone.status, 404);
      assert.equal(gone.type, 'resource_not_found_exception');
    });

    it('deletes a model; then it is gone', async () => {
      assert.deepEqual(await c.ml.deleteTrainedModel({ model_id: 'cls-b' }), { acknowledged: true });
      assert.equal((await refused(c.ml.getTrainedModels({ model_id: 'cls-b' }))).status, 404);
      assert.equal((await refused(c.ml.deleteTrainedModel({ model_id: 'cls-b' }))).status, 404);
    });

    it("serves a worker its model and definition, authenticated by the worker's own token", async () => {
      const machineId = (await g.store.registerMachine(machineReg('worker-host', accountId), Date.now())).id;
      const ep = await g.store.createEndpoint({
        accountId,
        name: 'emb',
        apiKey: 'gek_emb_test',
        params: DEFAULT_ENDPOINT_PARAMS,
        aliasOf: null,
        now: Date.now(),
      });
      const template = { image: 'x', env: { GANTRY_MODEL_ID: 'emb-1' }, ports: [], onstart: null, args: null, diskGb: 1 };
      const wg = await g.store.createWorkergroup({
        accountId,
        endpointId: ep.id,
        template,
        placement: { conditions: [] },
        launchArgs: null,
        gpuRamGb: null,
        testWorkers: 1,
        now: Date.now(),
      });
      // The test gantry's own loops settle these instances meanwhile and may take or free a port on
      // the machine between our reads: a port conflict is retryable, as rentals retry it.
      const mkWorker = async (env: Record<string, string>) => {
        for (let i = 0; ; i++) {
          try {
            return await createWorker(env);
          } catch (err) {
            if (i >= 4 || !(err instanceof GantryError) || err.kind !== 'conflict') throw err;
          }
        }
      };
      const createWorker = (env: Record<string, string>) =>
        g.store.createInstance({
          accountId,
          machineId,
          numGpus: 0,
          image: 'x',
          env,
          requestedPorts: [],
          onstart: null,
          entrypoint: null,
          args: null,
          runtype: 'args',
          label: null,
          diskGb: 1,
          offerType: 'on-demand',
          bidPrice: null,
          dphBase: 0,
          storageCost: 0,
          target: 'stopped',
          instanceKeyHash: (id) => `worker-${id}`,
          worker: { workergroupId: wg.id, endpointId: ep.id },
          now: Date.now(),
        });
      const grant = (modelId: string): string => modelGrant(g.control.ctx.secret, accountId, 'emb', modelId);
      const w = await mkWorker({ GANTRY_MODEL_ID: 'emb-1', GANTRY_MODEL_GRANT: grant('emb-1') });
      const headers = { 'x-gantry-worker-id': String(w.id), 'x-gantry-worker-token': workerToken(g.control.ctx.secret, w.id) };
      const model = await esRaw(g, 'GET', '/_ml/_gantry/worker/model', { auth: null, headers });
      assert.equal(model.status, 200, model.text);
      assert.deepEqual(model.body, {
        model_id: 'emb-1',
        inference_config: EMBEDDING,
        input: { field_names: ['text_field'] },
        vocabulary: ['[PAD]', '[UNK]', '[CLS]', '[SEP]', 'hello'],
      });
      const def = await fetch(`${g.url}/_ml/_gantry/worker/model/definition`, { headers });
      assert.equal(def.status, 200);
      assert.equal(def.headers.get('content-type'), 'application/octet-stream');
      assert.equal(Number(def.headers.get('content-length')), onnx.length);
      assert.ok(Buffer.from(await def.arrayBuffer()).equals(Buffer.from(onnx)), 'the bytes uploaded, in order');
      // Wrong token, a user's key, or no headers: 401 in the dialect's shape.
      for (const h of [{ ...headers, 'x-gantry-worker-token': 'gwt_wrong' }, {}]) {
        const r = await esRaw(g, 'GET', '/_ml/_gantry/worker/model', { headers: h });
        assert.equal(r.status, 401);
        assert.equal(r.body.error.type, 'security_exception');
      }
      // A worker that names a model without the grant only _start writes (a workergroup made through another API): 403.
      const forged = await mkWorker({ GANTRY_MODEL_ID: 'emb-1', GANTRY_MODEL_GRANT: grant('other-model') });
      const hf = { 'x-gantry-worker-id': String(forged.id), 'x-gantry-worker-token': workerToken(g.control.ctx.secret, forged.id) };
      for (const path of ['/_ml/_gantry/worker/model', '/_ml/_gantry/worker/model/definition']) {
        const r = await esRaw(g, 'GET', path, { auth: null, headers: hf });
        assert.equal(r.status, 403, r.text);
      }
      // A worker whose model is not fully defined, or that names no model: 404.
      const w2 = await mkWorker({ GANTRY_MODEL_ID: 'garbage', GANTRY_MODEL_GRANT: grant('garbage') });
      const h2 = { 'x-gantry-worker-id': String(w2.id), 'x-gantry-worker-token': workerToken(g.control.ctx.secret, w2.id) };
      assert.equal((await esRaw(g, 'GET', '/_ml/_gantry/worker/model', { auth: null, headers: h2 })).status, 404);
      assert.equal((await esRaw(g, 'GET', '/_ml/_gantry/worker/model/definition', { auth: null, headers: h2 })).status, 404);
      const w3 = await mkWorker({});
      const h3 = { 'x-gantry-worker-id': String(w3.id), 'x-gantry-worker-token': workerToken(g.control.ctx.secret, w3.id) };
      assert.equal((await esRaw(g, 'GET', '/_ml/_gantry/worker/model', { auth: null, headers: h3 })).status, 404);
    });

    it('a 40 MB model in 4 MB parts is taken and checked part by part, never held whole', async () => {
      const big = minimalOnnx({ padBytes: 40 * 1024 * 1024 });
      await putModel(c, 'big');
      const rss0 = process.memoryUsage().rss;
      await upload(c, 'big', big, 4 * 1024 * 1024);
      const m = (await c.ml.getTrainedModels({ model_id: 'big', include: 'definition_status' })).trained_model_configs[0] as any;
      assert.equal(m.fully_defined, true);
      assert.equal(m.model_size_bytes, big.length);
      // Loose bound: the server (in this process) never held the model whole on top of the test's own copies.
      const grew = process.memoryUsage().rss - rss0;
      assert.ok(grew < 200 * 1024 * 1024, `rss grew by ${Math.round(grew / 1024 / 1024)} MB`);
      assert.deepEqual(await c.ml.deleteTrainedModel({ model_id: 'big' }), { acknowledged: true });
    });
  });
}
