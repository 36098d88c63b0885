import type { Client } from '@elastic/elasticsearch';
import type { TrainedModelConfig } from '../../src/domain/ml/records.js';
import type { TinyModel } from '../fixtures/onnx/models.js';

const LABELS = ['negative', 'neutral', 'positive'];

/** Put a model, its definition in parts and its vocabulary, with the real client. */
export async function uploadModel(c: Client, id: string, m: TinyModel, inferenceConfig: Record<string, unknown>): Promise<void> {
  await c.ml.putTrainedModel({ model_id: id, model_type: 'onnx' as 'pytorch', inference_config: inferenceConfig, input: { field_names: ['text_field'] } });
  const partBytes = Math.ceil(m.bytes.length / 3);
  for (let i = 0; i < 3; i++) {
    const part = Buffer.from(m.bytes.subarray(i * partBytes, Math.min(m.bytes.length, (i + 1) * partBytes))).toString('base64');
    await c.ml.putTrainedModelDefinitionPart({ model_id: id, part: i, definition: part, total_definition_length: m.bytes.length, total_parts: 3 });
  }
  await c.ml.putTrainedModelVocabulary({ model_id: id, vocabulary: [...m.vocabulary] });
}

export const CLASSIFICATION = { text_classification: { classification_labels: LABELS, num_top_classes: -1, tokenization: { bert: { do_lower_case: true } } } };
export const EMBEDDING = { text_embedding: { tokenization: { bert: { do_lower_case: true } } } };

/** A text-embedding model's config as the store keeps it, with nothing else set (the store's contract suites). */
export const EMBEDDING_CONFIG: TrainedModelConfig = {
  modelType: 'onnx',
  description: null,
  tags: [],
  metadata: null,
  inferenceConfig: { text_embedding: {} },
  inputFieldNames: ['text_field'],
  declaredSizeBytes: 0,
};

/** The body of a PUT of a text-embedding model, as a client sends it (the definition comes in parts after). */
export const EMBEDDING_MODEL_BODY = JSON.stringify({
  model_type: 'onnx',
  inference_config: { text_embedding: { tokenization: { bert: { do_lower_case: true, max_sequence_length: 16 } } } },
  input: { field_names: ['text_field'] },
});
