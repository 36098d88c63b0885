import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { referenceClassify, referenceEmbed, referenceHidden, tinyClassifier, tinyEmbedder, VOCABULARY, type TinyModel } from '../fixtures/onnx/models.js';

/** The fixture models run in onnxruntime and give what the plain-JS reference computes. */

const TOL = 1e-5;

function close(actual: ArrayLike<number>, expected: readonly number[], what: string): void {
  assert.equal(actual.length, expected.length, `${what}: length`);
  for (let i = 0; i < expected.length; i++)
    assert.ok(Math.abs(Number(actual[i]) - (expected[i] ?? NaN)) <= TOL, `${what}[${i}]: ${actual[i]} vs ${expected[i]}`);
}

async function run(m: TinyModel, ids: number[][], mask: number[][], types?: number[][]): Promise<Tensor> {
  const session = await InferenceSession.create(m.bytes);
  const t = (rows: number[][]): Tensor => new Tensor('int64', BigInt64Array.from(rows.flat().map((x) => BigInt(x))), [rows.length, rows[0]?.length ?? 0]);
  const feeds: Record<string, Tensor> = { input_ids: t(ids), attention_mask: t(mask) };
  if (types) feeds.token_type_ids = t(types);
  const out = await session.run(feeds);
  await session.release();
  const first = out[m.outputName];
  assert.ok(first, 'the model has its named output');
  return first;
}

// "[CLS] the cat sat [SEP]" and "[CLS] good movie [SEP] [PAD] [PAD]"
const long = [2, 4, 6, 8, 3];
const short = [2, 11, 13, 3];
const id = (w: string): number => VOCABULARY.indexOf(w);

describe('tiny ONNX fixture models', () => {
  it('declares the Hugging Face contract: int64 input_ids and attention_mask, dims [batch, sequence]', async () => {
    const s = await InferenceSession.create(tinyClassifier().bytes);
    assert.deepEqual([...s.inputNames], ['input_ids', 'attention_mask']);
    assert.deepEqual([...s.outputNames], ['logits']);
    await s.release();
    const t = await InferenceSession.create(tinyEmbedder({ withTokenTypes: true }).bytes);
    assert.deepEqual([...t.inputNames], ['input_ids', 'attention_mask', 'token_type_ids']);
    await t.release();
    assert.equal(id('cat'), 6);
  });

  it('classifier: logits equal the reference to 1e-5, and padding changes nothing', async () => {
    const m = tinyClassifier({ labels: 3, hidden: 8, seed: 7 });
    const alone = await run(m, [short], [[1, 1, 1, 1]]);
    assert.deepEqual(alone.dims, [1, 3]);
    close(alone.data as Float32Array, referenceClassify(m, short, [1, 1, 1, 1]).logits, 'short alone');
    const batch = await run(
      m,
      [long, [...short, 0]],
      [
        [1, 1, 1, 1, 1],
        [1, 1, 1, 1, 0],
      ],
    );
    const d = batch.data as Float32Array;
    close(d.subarray(0, 3), referenceClassify(m, long, [1, 1, 1, 1, 1]).logits, 'long in batch');
    close(d.subarray(3, 6), Array.from(alone.data as Float32Array), 'short padded = short alone');
  });

  it('classifier with token types adds the type embedding', async () => {
    const m = tinyClassifier({ withTokenTypes: true, seed: 3 });
    const out = await run(m, [short], [[1, 1, 1, 1]], [[0, 0, 1, 1]]);
    close(out.data as Float32Array, referenceClassify(m, short, [1, 1, 1, 1], [0, 0, 1, 1]).logits, 'typed');
  });

  it('embedder: [batch, sequence, hidden] equals the reference per token; pooled over the mask it ignores padding', async () => {
    const m = tinyEmbedder({ hidden: 6, seed: 11 });
    const out = await run(
      m,
      [long, [...short, 0]],
      [
        [1, 1, 1, 1, 1],
        [1, 1, 1, 1, 0],
      ],
    );
    assert.deepEqual(out.dims, [2, 5, 6]);
    const d = out.data as Float32Array;
    close(d.subarray(0, 30), referenceHidden(m, long).flat(), 'long tokens');
    close(d.subarray(30, 54), referenceHidden(m, short).flat(), 'short tokens');
    const pooled = Array.from({ length: 6 }, (_, j) => [0, 1, 2, 3].reduce((a, s) => a + (d[30 + s * 6 + j] ?? 0), 0) / 4);
    close(Float64Array.from(pooled), referenceEmbed(m, [...short, 0], [1, 1, 1, 1, 0]), 'pooled short');
    close(Float64Array.from(referenceEmbed(m, short, [1, 1, 1, 1])), referenceEmbed(m, [...short, 0], [1, 1, 1, 1, 0]), 'reference ignores padding');
  });
});
