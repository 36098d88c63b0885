import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { GantryError } from '../../src/domain/errors.js';
import {
  applyInferenceOverride,
  docText,
  parseInferenceConfig,
  parseInputField,
  postProcess,
  renderInferenceConfig,
  type RawOutput,
  type TaskConfig,
} from '../../src/domain/ml/tasks.js';
import { padBatch, tokenize, Vocabulary, type TokenBatch } from '../../src/domain/ml/tokenizer.js';
import { referenceClassify, referenceEmbed, tinyClassifier, tinyEmbedder, type TinyModel } from '../fixtures/onnx/models.js';

const code = (c: string) => (e: unknown) => e instanceof GantryError && e.code === c;
const batchOf = (masks: number[][]): TokenBatch => ({
  inputIds: masks.map((m) => m.map(() => 5)),
  attentionMask: masks,
  tokenTypeIds: masks.map((m) => m.map(() => 0)),
  sequenceLength: masks[0]?.length ?? 0,
});

describe('inference_config per task', () => {
  it('parses the three tasks with their defaults and renders them back', () => {
    const c = parseInferenceConfig({
      text_classification: {
        classification_labels: ['neg', 'pos'],
        num_top_classes: 2,
        tokenization: { bert: { do_lower_case: true } },
        vocabulary: { index: '.ml' },
      },
    });
    assert.equal(c.task, 'text_classification');
    assert.deepEqual(c.classificationLabels, ['neg', 'pos']);
    assert.equal(c.numTopClasses, 2);
    assert.equal(c.resultsField, 'predicted_value');
    assert.equal(c.tokenization.doLowerCase, true);
    assert.deepEqual(renderInferenceConfig(c), {
      text_classification: {
        tokenization: { bert: { do_lower_case: true, with_special_tokens: true, max_sequence_length: 512, truncate: 'first', span: -1 } },
        results_field: 'predicted_value',
        classification_labels: ['neg', 'pos'],
        num_top_classes: 2,
      },
    });
    assert.equal(parseInferenceConfig({ text_embedding: {} }).task, 'text_embedding');
    assert.equal(parseInferenceConfig({ pass_through: { results_field: 'raw' } }).resultsField, 'raw');
  });

  it('refuses an unknown task naming the supported ones, and fields that are not the task’s', () => {
    assert.throws(
      () => parseInferenceConfig({ ner: {} }),
      (e: unknown) => code('INVALID_INFERENCE_CONFIG')(e) && /\[ner\].*text_embedding, text_classification, pass_through/.test((e as Error).message),
    );
    assert.throws(() => parseInferenceConfig({}), /exactly one task/);
    assert.throws(() => parseInferenceConfig({ text_embedding: {}, pass_through: {} }), /exactly one task/);
    assert.throws(() => parseInferenceConfig({ text_embedding: { num_top_classes: 1 } }), /num_top_classes/);
    assert.throws(() => parseInferenceConfig({ text_classification: { num_top_classes: -2 } }), /num_top_classes/);
    assert.throws(() => parseInferenceConfig({ text_classification: { classification_labels: [] } }), /classification_labels/);
    assert.throws(() => parseInferenceConfig({ text_classification: { tokenization: { mpnet: {} } } }), /\[bert\]/);
  });

  it('takes per-request overrides of the fields Elasticsearch lets change, nothing else', () => {
    const base = parseInferenceConfig({ text_classification: { classification_labels: ['a', 'b', 'c'] } });
    const o = applyInferenceOverride(base, {
      text_classification: { num_top_classes: -1, results_field: 'label', tokenization: { bert: { truncate: 'none' } } },
    });
    assert.equal(o.numTopClasses, -1);
    assert.equal(o.resultsField, 'label');
    assert.equal(o.tokenization.truncate, 'none');
    assert.equal(o.tokenization.maxSequenceLength, 512);
    assert.equal(applyInferenceOverride(base, undefined), base);
    assert.throws(() => applyInferenceOverride(base, { text_embedding: {} }), /model's task is \[text_classification\]/);
    assert.throws(() => applyInferenceOverride(base, { text_classification: { tokenization: { bert: { do_lower_case: true } } } }), /truncate/);
    assert.throws(() => applyInferenceOverride(base, { text_classification: { vocabulary: {} } }), /cannot be changed/);
  });

  it('reads the input field, text_field by default, and says which is missing as Elasticsearch does', () => {
    assert.equal(parseInputField(undefined), 'text_field');
    assert.equal(parseInputField({ field_names: ['body'] }), 'body');
    assert.throws(() => parseInputField({ field_names: [] }), code('INVALID_ARGUMENT'));
    assert.equal(docText({ text_field: 'hi' }, 'text_field'), 'hi');
    assert.equal(docText({ a: { b: 'deep' } }, 'a.b'), 'deep');
    assert.throws(
      () => docText({ other: 'x' }, 'text_field'),
      (e: unknown) => code('INPUT_FIELD_MISSING')(e) && (e as Error).message === 'Input field [text_field] does not exist in the request',
    );
    assert.throws(() => docText({ text_field: 3 }, 'text_field'), code('INVALID_ARGUMENT'));
    // Object's own names are fields a document lacks (they were Object's: "must be a string").
    for (const f of ['constructor', '__proto__', 'a.constructor', 'toString']) assert.throws(() => docText({ a: {} }, f), code('INPUT_FIELD_MISSING'), f);
    assert.equal(docText(JSON.parse('{"__proto__": {"x": "own"}}') as unknown, '__proto__.x'), 'own');
  });
});

describe('post-processing raw outputs', () => {
  const cls = parseInferenceConfig({ text_classification: { classification_labels: ['neg', 'neu', 'pos'], num_top_classes: 2 } });

  it('text_classification: softmax, the best label, top classes in order; labels default to indexes', () => {
    const out: RawOutput = { data: Float32Array.from([0, 1, 2, 5, 0, 0]), dims: [2, 3] };
    const [a, b] = postProcess(cls, out, batchOf([[1], [1]]), [false, true]);
    const e = [Math.exp(0), Math.exp(1), Math.exp(2)];
    const s = e[0]! + e[1]! + e[2]!;
    assert.equal(a?.predicted_value, 'pos');
    assert.ok(Math.abs((a?.prediction_probability as number) - e[2]! / s) < 1e-12);
    assert.deepEqual(
      (a?.top_classes as { class_name: string }[]).map((t) => t.class_name),
      ['pos', 'neu'],
    );
    const top = (a?.top_classes as { class_probability: number; class_score: number }[])[0];
    assert.equal(top?.class_probability, top?.class_score);
    assert.equal(b?.predicted_value, 'neg');
    assert.equal(b?.is_truncated, true);
    assert.equal(a?.is_truncated, undefined);
    const none = postProcess({ ...cls, numTopClasses: 0, classificationLabels: null, resultsField: 'x' }, out, batchOf([[1], [1]]), []);
    assert.deepEqual(Object.keys(none[0] ?? {}), ['x', 'prediction_probability']);
    assert.equal(none[0]?.x, '2');
    assert.throws(() => postProcess({ ...cls, classificationLabels: ['a', 'b'] }, out, batchOf([[1], [1]]), []), code('MODEL_DEFINITION_INVALID'));
  });

  it('text_embedding: [batch, hidden] as is; [batch, seq, hidden] mean-pooled over the mask, padding ignored', () => {
    const emb = parseInferenceConfig({ text_embedding: {} });
    assert.deepEqual(postProcess(emb, { data: [1, 2, 3, 4], dims: [2, 2] }, batchOf([[1], [1]]), [])[1]?.predicted_value, [3, 4]);
    // Row 1 has one real token; its padded positions hold 99s that must not count.
    const data = [1, 2, 3, 4, 5, 6, 10, 20, 99, 99, 99, 99];
    const [a, b] = postProcess(
      emb,
      { data, dims: [2, 3, 2] },
      batchOf([
        [1, 1, 1],
        [1, 0, 0],
      ]),
      [],
    );
    assert.deepEqual(a?.predicted_value, [3, 4]);
    assert.deepEqual(b?.predicted_value, [10, 20]);
    assert.throws(() => postProcess({ ...emb, embeddingSize: 3 }, { data: [1, 2], dims: [1, 2] }, batchOf([[1]]), []), /embedding_size/);
  });

  it('pass_through: the row as nested arrays, cut to its own tokens', () => {
    const pt = parseInferenceConfig({ pass_through: {} });
    const data = [1, 2, 3, 4, 5, 6, 10, 20, 99, 99, 99, 99];
    const [a, b] = postProcess(
      pt,
      { data, dims: [2, 3, 2] },
      batchOf([
        [1, 1, 1],
        [1, 0, 0],
      ]),
      [],
    );
    assert.deepEqual(a?.predicted_value, [
      [1, 2],
      [3, 4],
      [5, 6],
    ]);
    assert.deepEqual(b?.predicted_value, [[10, 20]]);
    assert.throws(() => postProcess(pt, { data, dims: [3, 2, 2] }, batchOf([[1], [1]]), []), /batch size/);
  });
});

/** Tokenize → onnxruntime → post-process, as the worker does: a short text gives the same numbers alone and batched with a longer one. */
async function infer(m: TinyModel, cfg: TaskConfig, texts: string[]): Promise<Record<string, unknown>[]> {
  const vocab = new Vocabulary(m.vocabulary);
  const rows = texts.map((t) => tokenize(t, vocab, cfg.tokenization));
  const b = padBatch(rows, vocab.pad);
  const t = (x: number[][]): Tensor => new Tensor('int64', BigInt64Array.from(x.flat().map(BigInt)), [x.length, b.sequenceLength]);
  const s = await InferenceSession.create(m.bytes);
  const out = (await s.run({ input_ids: t(b.inputIds), attention_mask: t(b.attentionMask) }))[m.outputName];
  await s.release();
  assert.ok(out);
  return postProcess(
    cfg,
    { data: out.data as Float32Array, dims: out.dims },
    b,
    rows.map((r) => r.truncated),
  );
}

describe('tokenize, run and post-process a real model', () => {
  const lower = { bert: { do_lower_case: true } };
  it('classifier: reference probabilities; padding changes nothing', async () => {
    const m = tinyClassifier({ labels: 3, seed: 5 });
    const cfg = parseInferenceConfig({ text_classification: { classification_labels: ['a', 'b', 'c'], num_top_classes: -1, tokenization: lower } });
    const [alone] = await infer(m, cfg, ['Good movie!']);
    const [, inBatch] = await infer(m, cfg, ['The cat sat on the mat, playing.', 'Good movie!']);
    assert.deepEqual(inBatch?.top_classes, alone?.top_classes);
    const ids = tokenize('Good movie!', new Vocabulary(m.vocabulary), cfg.tokenization).inputIds;
    const ref = referenceClassify(
      m,
      ids,
      ids.map(() => 1),
    ).probabilities;
    for (const t of alone?.top_classes as { class_name: string; class_probability: number }[])
      assert.ok(Math.abs(t.class_probability - (ref[['a', 'b', 'c'].indexOf(t.class_name)] ?? NaN)) < 1e-5);
  });

  it('embedder: pooled reference embedding; padding changes nothing', async () => {
    const m = tinyEmbedder({ hidden: 5, seed: 9 });
    const cfg = parseInferenceConfig({ text_embedding: { tokenization: lower } });
    const [alone] = await infer(m, cfg, ['hello world']);
    const [inBatch] = await infer(m, cfg, ['hello world', 'this movie is unbelievable, i love it!']);
    const ids = tokenize('hello world', new Vocabulary(m.vocabulary), cfg.tokenization).inputIds;
    const ref = referenceEmbed(
      m,
      ids,
      ids.map(() => 1),
    );
    for (const r of [alone, inBatch]) (r?.predicted_value as number[]).forEach((x, j) => assert.ok(Math.abs(x - (ref[j] ?? NaN)) < 1e-5));
  });
});
