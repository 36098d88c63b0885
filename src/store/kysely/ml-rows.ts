import type { Selectable } from 'kysely';
import type { PipelineRecord, TrainedModelConfig, TrainedModelRecord } from '../../domain/ml/records.js';

export interface MlModelTable {
  account_id: number;
  model_id: string;
  /** TrainedModelConfig as JSON. */
  config_json: string;
  created_at: number;
  total_parts: number | null;
  total_definition_length: number | null;
  fully_defined: number;
  onnx_json: string | null;
  /** When the last definition part arrived; null: none held. */
  parts_updated_at: number | null;
  /** Moved by every write or removal of the parts: what a check's outcome is guarded by (migration 0037). */
  parts_version: number;
  /** When housekeeping last took the whole definition to check it again; null: not since the parts changed. */
  check_claimed_at: number | null;
  /** Housekeeping's claims of the definition since its parts last changed. */
  check_attempts: number;
  /** Why the check refused the definition; null unless refused. */
  definition_refusal: string | null;
}

export interface MlModelPartTable {
  account_id: number;
  model_id: string;
  part: number;
  length: number;
  bytes: Uint8Array;
}

export interface MlVocabularyTable {
  account_id: number;
  model_id: string;
  vocabulary_json: string;
}

export interface MlPipelineTable {
  account_id: number;
  id: string;
  body_json: string;
  created_at: number;
  updated_at: number;
}

export interface MlModelAliasTable {
  account_id: number;
  alias: string;
  model_id: string;
  created_at: number;
}

export interface MlTables {
  ml_models: MlModelTable;
  ml_model_parts: MlModelPartTable;
  ml_vocabularies: MlVocabularyTable;
  ml_pipelines: MlPipelineTable;
  ml_model_aliases: MlModelAliasTable;
}

const nn = (v: number | string | null): number | null => (v === null ? null : Number(v));

export function toTrainedModel(r: Selectable<MlModelTable>): TrainedModelRecord {
  const config = JSON.parse(r.config_json) as TrainedModelConfig;
  return {
    ...config,
    accountId: r.account_id,
    modelId: r.model_id,
    createdAt: Number(r.created_at),
    totalParts: nn(r.total_parts),
    totalDefinitionLength: nn(r.total_definition_length),
    fullyDefined: Number(r.fully_defined) === 1,
    definitionRefusal: Number(r.fully_defined) === -1 ? r.definition_refusal : null,
    onnx: r.onnx_json === null ? null : (JSON.parse(r.onnx_json) as unknown),
  };
}

export function toPipeline(r: Selectable<MlPipelineTable>): PipelineRecord {
  return {
    accountId: r.account_id,
    id: r.id,
    body: JSON.parse(r.body_json) as Record<string, unknown>,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
