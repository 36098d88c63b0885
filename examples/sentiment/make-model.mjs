// A toy sentiment model for the Elasticsearch walk-through (README, "Elasticsearch trained models"):
// writes model.onnx and vocab.txt next to this file. It is not trained: each word of a short list
// scores as positive or negative by hand, and the model averages the scores of a text's tokens. Its
// graph has the inputs and outputs of a Hugging Face ONNX export of a BERT classifier (int64
// input_ids and attention_mask of [batch, sequence] in, logits [batch, 2] out), so Gantry serves it
// as it serves a real one. Run again with `node examples/sentiment/make-model.mjs` (protobufjs comes
// with the project's development dependencies).
import { writeFileSync } from 'node:fs';
import protobuf from 'protobufjs';

const POSITIVE = ['great', 'good', 'love', 'happy', 'excellent', 'wonderful', 'nice', 'best', 'fun', 'like'];
const NEGATIVE = ['bad', 'terrible', 'hate', 'sad', 'awful', 'worst', 'boring', 'poor', 'angry', 'dislike'];
const NEUTRAL = ['what', 'a', 'an', 'the', 'day', 'movie', 'this', 'is', 'was', 'it', 'i', 'not', 'very', 'so', 'film', '!', '.', ',', '?'];
const VOCAB = ['[PAD]', '[UNK]', '[CLS]', '[SEP]', '[MASK]', ...NEUTRAL, ...POSITIVE, ...NEGATIVE];

// Embedding per token, [negative score, positive score]: the model's logits are their mean over the text.
const score = (w) => (POSITIVE.includes(w) ? [0, 3] : NEGATIVE.includes(w) ? [3, 0] : [0, 0]);
const embeddings = VOCAB.flatMap(score);

const F = (id, type, rule) => ({ id, type, ...(rule ? { rule } : {}) });
const root = protobuf.Root.fromJSON({
  nested: {
    onnx: {
      nested: {
        ModelProto: { fields: { ir_version: F(1, 'int64'), producer_name: F(2, 'string'), graph: F(7, 'GraphProto'), opset_import: F(8, 'OperatorSetIdProto', 'repeated') } },
        OperatorSetIdProto: { fields: { domain: F(1, 'string'), version: F(2, 'int64') } },
        GraphProto: {
          fields: {
            node: F(1, 'NodeProto', 'repeated'),
            name: F(2, 'string'),
            initializer: F(5, 'TensorProto', 'repeated'),
            input: F(11, 'ValueInfoProto', 'repeated'),
            output: F(12, 'ValueInfoProto', 'repeated'),
          },
        },
        NodeProto: { fields: { input: F(1, 'string', 'repeated'), output: F(2, 'string', 'repeated'), name: F(3, 'string'), op_type: F(4, 'string'), attribute: F(5, 'AttributeProto', 'repeated') } },
        AttributeProto: { fields: { name: F(1, 'string'), i: F(3, 'int64'), type: F(20, 'int32') } },
        TensorProto: { fields: { dims: F(1, 'int64', 'repeated'), data_type: F(2, 'int32'), float_data: F(4, 'float', 'repeated'), int64_data: F(7, 'int64', 'repeated'), name: F(8, 'string') } },
        ValueInfoProto: { fields: { name: F(1, 'string'), type: F(2, 'TypeProto') } },
        TypeProto: { fields: { tensor_type: F(1, 'Tensor') }, nested: { Tensor: { fields: { elem_type: F(1, 'int32'), shape: F(2, 'TensorShapeProto') } } } },
        TensorShapeProto: { fields: { dim: F(1, 'Dimension', 'repeated') }, nested: { Dimension: { fields: { dim_value: F(1, 'int64'), dim_param: F(2, 'string') } } } },
      },
    },
  },
});
const ModelProto = root.lookupType('onnx.ModelProto');
const FLOAT = 1;
const INT64 = 7;
const ATTR_INT = 2;
const node = (op_type, input, output, attribute = []) => ({ op_type, input, output, name: `${op_type}_${output[0]}`, attribute });
const info = (name, elem, dims) => ({
  name,
  type: { tensor_type: { elem_type: elem, shape: { dim: dims.map((d) => (typeof d === 'string' ? { dim_param: d } : { dim_value: d })) } } },
});

// Gather the tokens' scores, average them over the tokens the attention mask keeps: logits [batch, 2].
const graph = {
  name: 'toy-sentiment',
  node: [
    node('Gather', ['E', 'input_ids'], ['emb']),
    node('Cast', ['attention_mask'], ['maskf'], [{ name: 'to', type: ATTR_INT, i: FLOAT }]),
    node('Unsqueeze', ['maskf', 'axis2'], ['mask3']),
    node('Mul', ['emb', 'mask3'], ['masked']),
    node('ReduceSum', ['masked', 'axis1'], ['summed'], [{ name: 'keepdims', type: ATTR_INT, i: 0 }]),
    node('ReduceSum', ['mask3', 'axis1'], ['count'], [{ name: 'keepdims', type: ATTR_INT, i: 0 }]),
    node('Div', ['summed', 'count'], ['logits']),
  ],
  initializer: [
    { name: 'E', dims: [VOCAB.length, 2], data_type: FLOAT, float_data: embeddings },
    { name: 'axis1', dims: [1], data_type: INT64, int64_data: [1] },
    { name: 'axis2', dims: [1], data_type: INT64, int64_data: [2] },
  ],
  input: [info('input_ids', INT64, ['batch', 'sequence']), info('attention_mask', INT64, ['batch', 'sequence'])],
  output: [info('logits', FLOAT, ['batch', 2])],
};
const bytes = ModelProto.encode(ModelProto.fromObject({ ir_version: 8, producer_name: 'gantry-example', opset_import: [{ domain: '', version: 17 }], graph })).finish();

const here = new URL('.', import.meta.url);
writeFileSync(new URL('model.onnx', here), bytes);
writeFileSync(new URL('vocab.txt', here), VOCAB.join('\n') + '\n');
console.log(`model.onnx (${bytes.length} bytes) and vocab.txt (${VOCAB.length} tokens) written to ${here.pathname}`);
