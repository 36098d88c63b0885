import type { TrainedModelRecord } from '../../../domain/ml/records.js';

/** The config version Elasticsearch 9.x writes on models (MlConfigVersion), not the node version. */
const CONFIG_VERSION = '12.0.0';

/** A stored model as Elasticsearch's TrainedModelConfig; its aliases go in `metadata.model_aliases`, as Elasticsearch puts them. */
export function modelConfigBody(
  m: TrainedModelRecord,
  o: { definitionStatus: boolean; excludeGenerated: boolean; aliases?: readonly string[] },
): Record<string, unknown> {
  const aliases = o.aliases ?? [];
  const metadata = aliases.length > 0 ? { ...(m.metadata ?? {}), model_aliases: aliases } : m.metadata;
  const generated = o.excludeGenerated
    ? {}
    : { created_by: 'api_user', version: CONFIG_VERSION, create_time: m.createdAt, estimated_operations: 0, license_level: 'platinum' };
  return {
    model_id: m.modelId,
    model_type: m.modelType,
    ...generated,
    model_size_bytes: m.totalDefinitionLength ?? m.declaredSizeBytes,
    ...(m.description !== null ? { description: m.description } : {}),
    tags: m.tags,
    ...(metadata !== null ? { metadata } : {}),
    input: { field_names: m.inputFieldNames },
    inference_config: m.inferenceConfig,
    location: { index: { name: '.ml-inference-native-000002' } },
    ...(o.definitionStatus ? { fully_defined: m.fullyDefined } : {}),
    // Elasticsearch has no place for why a definition was refused (its last part's 400 said it): Gantry's own
    // field, as `_stop`'s, for a refusal the owner never got an answer with (a check housekeeping ran or gave up).
    ...(o.definitionStatus && m.definitionRefusal !== null ? { gantry: { definition_refusal: m.definitionRefusal } } : {}),
  };
}
