/**
 * Bounds on what one account can make the Elasticsearch dialect's trained-model API hold (src/control/ml/,
 * src/api/dialects/elastic/models.ts): part of SETTINGS (schema.ts, which checks their shape), kept here
 * so that table stays short.
 */
export const ML_SETTINGS = {
  maxTrainedModelsPerAccount: {
    type: 'integer',
    default: 100,
    doc: 'Most trained models (Elasticsearch dialect) one account other than an admin may hold; creating one more is TRAINED_MODEL_LIMIT (400). 0: no bound.',
  },
  maxIngestPipelinesPerAccount: {
    type: 'integer',
    default: 100,
    doc: 'Most ingest pipelines (Elasticsearch dialect) one account other than an admin may hold; putting one more is PIPELINE_LIMIT (400, illegal_argument_exception); replacing one it holds always passes. A pipeline is at most 65,536 characters of JSON (a larger one is a 400 whatever the bound). 0: no bound.',
  },
  maxModelDefinitionBytesPerAccount: {
    type: 'integer',
    default: 2_147_483_648,
    doc: 'Most bytes of trained-model definition parts one account other than an admin may hold in the database, over all its models (default 2 GiB; a model counts as its declared total_definition_length from its first part); a part that would pass it is MODEL_STORAGE_LIMIT (400) and is not stored. A repeated part counts once. 0: no bound.',
  },
  incompleteDefinitionTtlMs: {
    type: 'duration',
    default: 86_400_000,
    doc: 'A model whose definition is not fully defined (parts missing, or the whole refused by the ONNX check) and got no part for this long has its parts forgotten by housekeeping (default 24 h); the model stays, and its upload starts again from part 0 with any totals. A whole definition whose check never ended (a crash, the database away) is checked again instead. 0: kept until the model is deleted.',
  },
  modelUploadConcurrency: {
    type: 'integer',
    default: 2,
    doc: 'Most definition-part and vocabulary bodies over 1 MiB (or of unknown length) one replica reads, parses and stores at once: each can take up to 100 MB of body and a few times that in memory while it is parsed. One more waits up to modelUploadWaitMs. 0: no bound.',
  },
  modelUploadWaitMs: {
    type: 'duration',
    default: 30_000,
    doc: 'How long a large definition-part or vocabulary body waits for its turn (modelUploadConcurrency), not parsed, before it is refused with MODEL_UPLOADS_BUSY (429, Retry-After). 0: refused at once.',
  },
} as const;
