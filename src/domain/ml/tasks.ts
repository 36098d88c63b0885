import { GantryError } from '../errors.js';

/*
 * PLACEHOLDER: the inference tasks module is written by another change (issue 13's task and
 * tokenizer work). Only `parseInferenceConfig` is used here, with the signature agreed for it; this
 * minimal version checks the shape (exactly one supported task holding an object) so models can be
 * stored before the real validation arrives. The merge keeps the other change's file.
 */

export const TASKS = ['text_embedding', 'text_classification', 'pass_through'] as const;
export type TaskName = (typeof TASKS)[number];

export interface InferenceConfig {
  readonly task: TaskName;
  readonly settings: Readonly<Record<string, unknown>>;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** The task config of a model (`inference_config`): exactly one task of TASKS; INVALID_ARGUMENT otherwise. */
export function parseInferenceConfig(raw: unknown): InferenceConfig {
  if (!isObject(raw)) throw new GantryError('INVALID_ARGUMENT', '[inference_config] must be an object naming one task.', { field: 'inference_config' });
  const keys = Object.keys(raw);
  if (keys.length !== 1) {
    throw new GantryError('INVALID_ARGUMENT', `[inference_config] must name exactly one task (one of ${TASKS.join(', ')}).`, { field: 'inference_config' });
  }
  const task = keys[0] as string;
  if (!(TASKS as readonly string[]).includes(task)) {
    throw new GantryError('INVALID_ARGUMENT', `Unknown inference task [${task}]; Gantry supports ${TASKS.join(', ')}.`, { field: 'inference_config' });
  }
  const settings = raw[task];
  if (!isObject(settings)) throw new GantryError('INVALID_ARGUMENT', `[inference_config.${task}] must be an object.`, { field: `inference_config.${task}` });
  return { task: task as TaskName, settings };
}
