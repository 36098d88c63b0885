import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { Store } from '../../src/store/store.js';
import { minimalOnnx } from '../fixtures/onnx/minimal.js';
import { esRaw } from '../helpers/elastic.js';
import { startTestGantry, type TestGantry } from '../helpers/gantry.js';
import { ManualClock } from '../helpers/manual-clock.js';
import { EMBEDDING_MODEL_BODY } from '../helpers/elastic-models.js';
import { TEST_STORES } from '../helpers/stores.js';

const ts = TEST_STORES.find((s) => s.name === 'sqlite');
const MODEL = EMBEDDING_MODEL_BODY;
const JSON_TYPE = 'application/json';
/** Housekeeping's wait before it takes an unchecked definition again (UNCHECKED_AFTER_MS), and a millisecond. */
const PAST_WAIT = 600_001;

const putModel = (g: TestGantry, id: string) => esRaw(g, 'PUT', `/_ml/trained_models/${id}`, { body: MODEL, contentType: JSON_TYPE });
const putWhole = (g: TestGantry, id: string, bytes: Uint8Array) =>
  esRaw(g, 'PUT', `/_ml/trained_models/${id}/definition/0`, {
    body: JSON.stringify({ definition: Buffer.from(bytes).toString('base64'), total_parts: 1, total_definition_length: bytes.length }),
    contentType: JSON_TYPE,
  });
const status = async (g: TestGantry, id: string): Promise<{ fully_defined: boolean; gantry?: { definition_refusal: string } }> =>
  (await esRaw(g, 'GET', `/_ml/trained_models/${id}?include=definition_status`)).body.trained_model_configs[0];

/**
 * The check of a whole definition, as housekeeping runs it again when it never ended: a check slower than the wait
 * keeps its outcome, one that never ends is given up on with a reason the owner reads, and a refusal's reason shows.
 */
describe('the check of a trained model definition, taken again by housekeeping', { skip: ts?.skip ?? false }, () => {
  let g: TestGantry;
  const clock = new ManualClock();
  let ctx: { store: Store };
  let store: Store;
  /** Replace the store's readModelPart for one model, until `ctx.store = store` again. */
  const readsOf = (modelId: string, read: (orig: () => Promise<Uint8Array | undefined>) => Promise<Uint8Array | undefined>) => {
    ctx.store = new Proxy({} as Store, {
      get: (_, k) => {
        if (k === 'readModelPart')
          return (a: number, m: string, i: number) => (m === modelId ? read(() => store.readModelPart(a, m, i)) : store.readModelPart(a, m, i));
        const v = Reflect.get(store, k) as unknown;
        return typeof v === 'function' ? (v as (...a: unknown[]) => unknown).bind(store) : v;
      },
    });
  };

  before(async () => {
    // Housekeeping runs where the test says (runOnce), not on its own timer as well.
    g = await startTestGantry(ts!, { localHost: false, clock, settings: { sweepIntervalMs: 3_600_000 } });
    ctx = g.control.ctx;
    store = ctx.store;
  });
  after(async () => {
    ctx.store = store;
    await g?.dispose();
  });

  it('a refusal says why when asked for the definition status', async () => {
    assert.equal((await putModel(g, 'not-onnx')).status, 200);
    const put = await putWhole(g, 'not-onnx', new Uint8Array(64).fill(7));
    assert.equal(put.status, 400, put.text);
    const s = await status(g, 'not-onnx');
    assert.deepEqual(s.gantry, { definition_refusal: put.body.error.reason }, JSON.stringify(s));
    assert.equal((await esRaw(g, 'GET', '/_ml/trained_models/not-onnx')).body.trained_model_configs[0].gantry, undefined);
  });

  it("a check that runs past housekeeping's wait records its outcome, though housekeeping took the parts again meanwhile", async () => {
    assert.equal((await putModel(g, 'slow')).status, 200);
    let reading!: () => void;
    const started = new Promise<void>((r) => (reading = r));
    let release!: () => void;
    const released = new Promise<void>((r) => (release = r));
    let calls = 0;
    // The check of the last part reads slowly (a slow database); housekeeping's, meanwhile, is cut short.
    readsOf('slow', async (orig) => {
      if (++calls === 1) {
        reading();
        await released;
        return orig();
      }
      throw new Error('connection reset');
    });
    try {
      const put = putWhole(g, 'slow', minimalOnnx({ padBytes: 100 }));
      await started;
      clock.advance(PAST_WAIT);
      await g.control.housekeeping.runOnce();
      assert.equal(calls, 2, 'housekeeping took it again');
      release();
      assert.equal((await put).status, 200);
    } finally {
      ctx.store = store;
    }
    assert.equal((await status(g, 'slow')).fully_defined, true);
  });

  it('a definition whose checks never end is refused after three claims, with the reason; a part sent again checks it again', async () => {
    assert.equal((await putModel(g, 'crash')).status, 200);
    const onnx = minimalOnnx({ padBytes: 200 });
    // Each check stops with no outcome, as one whose process went down.
    readsOf('crash', () => Promise.reject(new Error('process down')));
    try {
      assert.equal((await putWhole(g, 'crash', onnx)).status, 500);
      for (let i = 0; i < 3; i++) {
        clock.advance(PAST_WAIT);
        await g.control.housekeeping.runOnce();
        const s = await status(g, 'crash');
        assert.deepEqual([s.fully_defined, s.gantry], [false, undefined], `not refused after ${i + 1} claim(s)`);
      }
      clock.advance(PAST_WAIT);
      await g.control.housekeeping.runOnce();
    } finally {
      ctx.store = store;
    }
    const refused = await status(g, 'crash');
    assert.equal(refused.fully_defined, false);
    assert.match(refused.gantry?.definition_refusal ?? '', /did not end in 4 attempts/);
    // Its bytes would pass now: refused, it is not checked again.
    clock.advance(PAST_WAIT);
    await g.control.housekeeping.runOnce();
    assert.equal((await status(g, 'crash')).fully_defined, false);
    assert.equal((await putWhole(g, 'crash', onnx)).status, 200);
    const s = await status(g, 'crash');
    assert.deepEqual([s.fully_defined, s.gantry], [true, undefined]);
  });
});
