import { GantryError } from './errors.js';

/**
 * Labels of AI Core's artifacts and resource groups. AI Core's spec bounds each label (a key of up to 256
 * characters, 63 for a resource group's, a value of up to 5000) but not how many: a list of hundreds
 * made every record of it a megabyte, and every list of them read and sent whole.
 */
export const MAX_LABELS = 50;

/** Most characters of one list's keys and values together: a few long values, or many short ones. */
export const MAX_LABEL_CHARS = 32_768;

/** INVALID_ARGUMENT unless the list is within MAX_LABELS and MAX_LABEL_CHARS. */
export function checkLabels(labels: readonly { readonly key: string; readonly value: string }[], field = 'labels'): void {
  if (labels.length > MAX_LABELS) {
    throw new GantryError('INVALID_ARGUMENT', `At most ${MAX_LABELS} labels; got ${labels.length}.`, { field });
  }
  const chars = labels.reduce((n, l) => n + l.key.length + l.value.length, 0);
  if (chars > MAX_LABEL_CHARS) {
    throw new GantryError('INVALID_ARGUMENT', `Labels hold at most ${MAX_LABEL_CHARS} characters of keys and values together; got ${chars}.`, { field });
  }
}
