import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { GantryError } from '../../src/domain/errors.js';
import { checkModelContract, scanOnnx, type OnnxSummary } from '../../src/domain/ml/onnx-scan.js';
import { tinyClassifier, tinyEmbedder } from '../fixtures/onnx/models.js';

const invalid = (e: unknown): boolean => e instanceof GantryError && e.code === 'MODEL_DEFINITION_INVALID';

/** Split bytes into chunks of random sizes (1 byte up to `max`), seeded so a failure repeats. */
function* chunks(bytes: Uint8Array, seed: number, max: number): Generator<Uint8Array> {
  let s = seed;
  for (let at = 0; at < bytes.length;) {
    s = (s * 1103515245 + 12345) % 2147483648;
    const n = 1 + (s % max);
    yield bytes.subarray(at, at + n);
    at += n;
  }
}

async function* slowly(bytes: Uint8Array, seed: number): AsyncGenerator<Uint8Array> {
  for (const c of chunks(bytes, seed, 97)) {
    await new Promise((r) => setImmediate(r));
    yield c;
  }
}

const expected: OnnxSummary = {
  irVersion: 8,
  opsets: [{ domain: '', version: 17 }],
  inputs: ['input_ids', 'attention_mask'],
  outputs: ['logits'],
  producer: 'gantry-test',
};

describe('streaming ONNX scan', () => {
  const classifier = tinyClassifier({ hidden: 16 }).bytes;

  it('reads the IR version, opsets, producer and graph inputs and outputs, whatever the chunk sizes', async () => {
    assert.deepEqual(await scanOnnx([classifier]), expected);
    for (let seed = 1; seed <= 20; seed++) assert.deepEqual(await scanOnnx(chunks(classifier, seed, seed * 13)), expected, `seed ${seed}`);
    assert.deepEqual(await scanOnnx(slowly(classifier, 3)), expected);
    const e = await scanOnnx(chunks(tinyEmbedder({ withTokenTypes: true }).bytes, 5, 50));
    assert.deepEqual(e.inputs, ['input_ids', 'attention_mask', 'token_type_ids']);
    assert.deepEqual(e.outputs, ['last_hidden_state']);
  });

  it('refuses empty, truncated and garbage bytes with MODEL_DEFINITION_INVALID', async () => {
    await assert.rejects(scanOnnx([]), invalid);
    await assert.rejects(scanOnnx([new Uint8Array(0)]), invalid);
    for (const cut of [1, 5, 40, classifier.length - 1]) await assert.rejects(scanOnnx([classifier.subarray(0, cut)]), invalid, `cut at ${cut}`);
    await assert.rejects(scanOnnx([new TextEncoder().encode('{"not": "a model"}')]), invalid);
    await assert.rejects(scanOnnx([new TextEncoder().encode('PK\u0003\u0004 a TorchScript zip')]), invalid);
    let s = 42;
    for (let i = 0; i < 200; i++) {
      const junk = Uint8Array.from({ length: 1 + (i % 64) }, () => ((s = (s * 1103515245 + 12345) % 2147483648), s % 256));
      await assert.rejects(scanOnnx([junk]), invalid, `junk ${i}`);
    }
    // A ModelProto with an IR version but no graph: field 1 = 8.
    await assert.rejects(scanOnnx([Uint8Array.from([0x08, 0x08])]), /no graph/);
  });

  it('checks the model contract: input_ids and attention_mask, nothing it cannot feed, an output', () => {
    checkModelContract(expected);
    checkModelContract({ ...expected, inputs: ['input_ids', 'attention_mask', 'token_type_ids'] });
    assert.throws(
      () => checkModelContract({ ...expected, inputs: ['input_ids'] }),
      (e: unknown) => invalid(e) && /attention_mask/.test((e as Error).message),
    );
    assert.throws(() => checkModelContract({ ...expected, inputs: ['input_ids', 'attention_mask', 'position_ids'] }), /position_ids/);
    checkModelContract({ ...expected, irVersion: 3, inputs: ['input_ids', 'attention_mask', 'weight'] });
    assert.throws(() => checkModelContract({ ...expected, outputs: [] }), /no output/);
  });
});
