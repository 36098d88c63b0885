/** Trained models, their definitions and vocabularies, and ingest pipelines (the Elasticsearch dialect's resources). */

/** What a trained model is, as its owner described it at creation; the definition arrives later in parts. */
export interface TrainedModelConfig {
  /** Always `onnx`: the only kind Gantry runs. */
  readonly modelType: 'onnx';
  readonly description: string | null;
  readonly tags: readonly string[];
  readonly metadata: Readonly<Record<string, unknown>> | null;
  /** The task and its settings as the owner sent them (one key: text_embedding, text_classification or pass_through). */
  readonly inferenceConfig: Readonly<Record<string, unknown>>;
  /** `input.field_names`: the document fields the model reads. */
  readonly inputFieldNames: readonly string[];
  /** What the owner declared in `model_size_bytes` (0: not declared). */
  readonly declaredSizeBytes: number;
}

export interface TrainedModelRecord extends TrainedModelConfig {
  readonly accountId: number;
  readonly modelId: string;
  readonly createdAt: number;
  /** Set by the first definition part; every later part must repeat them. */
  readonly totalParts: number | null;
  readonly totalDefinitionLength: number | null;
  /** Every part arrived, the lengths add up and the bytes passed the ONNX scan and the model contract. */
  readonly fullyDefined: boolean;
  /** Why the check refused the definition (upload a corrected part to try again); null unless refused. */
  readonly definitionRefusal: string | null;
  /** The scan's summary of the ONNX graph (inputs, outputs, opset), once fully defined. */
  readonly onnx: unknown;
}

/** A tokenizer's vocabulary, as `PUT …/vocabulary` sends it. */
export interface VocabularyRecord {
  readonly vocabulary: readonly string[];
  readonly merges: readonly string[] | null;
  readonly scores: readonly number[] | null;
}

/** What the store says about the parts held for a model. */
export interface DefinitionProgress {
  /** Parts held with an index below the model's total_parts. */
  readonly parts: number;
  /** Their bytes, added up. */
  readonly bytes: number;
}

/**
 * Which writes of a model's parts a check read: the version every write or removal of parts moves, and the time
 * of the last part. The check's outcome is recorded only while both are still the row's (`MlStore.setModelDefinitionChecked`).
 */
export interface PartsStamp {
  readonly version: number;
  readonly at: number;
}

/** An ingest pipeline: the body as sent (description, processors, on_failure, version, _meta). */
export interface PipelineRecord {
  readonly accountId: number;
  readonly id: string;
  readonly body: Readonly<Record<string, unknown>>;
  readonly createdAt: number;
  readonly updatedAt: number;
}
