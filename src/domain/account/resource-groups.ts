import { GantryError } from '../errors.js';
import { showValue } from '../show.js';

/**
 * AI Core's resource groups: named partitions of one account's AI Core resources. `default` exists
 * for every account without being created and cannot be deleted.
 */
export const DEFAULT_RESOURCE_GROUP = 'default';

/** AI Core's rule for a resource group id (3 to 253 characters, letters, digits, '.' and '-'). */
export const RESOURCE_GROUP_ID = /^[a-zA-Z0-9][a-zA-Z0-9.-]{1,251}[a-zA-Z0-9]$/;

export interface ResourceGroupLabel {
  readonly key: string;
  readonly value: string;
}

export interface ResourceGroupRecord {
  readonly accountId: number;
  /** The id the user chose (unique per account). */
  readonly id: string;
  readonly labels: readonly ResourceGroupLabel[];
  readonly createdAt: number;
}

/** One term of a label selector: `key=value` (must carry) or `key!=value` (must not carry). */
export interface LabelTerm {
  readonly key: string;
  readonly value: string;
  readonly negate: boolean;
}

const TERM = /^([^ =,!]+)(!?)=([^ =,!]+)$/;

/**
 * A label selector as AI Core takes it: terms joined by commas, possibly spread over repeated
 * parameters. INVALID_ARGUMENT names the term that does not parse.
 */
export function parseLabelSelector(parts: readonly string[]): LabelTerm[] {
  const out: LabelTerm[] = [];
  for (const part of parts)
    for (const raw of part.split(',')) {
      const m = TERM.exec(raw.trim());
      if (m === null)
        throw new GantryError('INVALID_ARGUMENT', `labelSelector term ${showValue(raw)} is not key=value or key!=value.`, { field: 'labelSelector' });
      out.push({ key: m[1] as string, negate: m[2] === '!', value: m[3] as string });
    }
  return out;
}

/** Whether labels meet every term (a `!=` term is met by a missing key too). */
export function matchesLabels(labels: readonly ResourceGroupLabel[], terms: readonly LabelTerm[]): boolean {
  return terms.every((t) => labels.some((l) => l.key === t.key && l.value === t.value) !== t.negate);
}

/** INVALID_ARGUMENT unless `id` is a resource group id. */
export function checkResourceGroupId(id: string): void {
  if (!RESOURCE_GROUP_ID.test(id)) {
    throw new GantryError('INVALID_ARGUMENT', `${showValue(id)} is not a resource group id (3-253 letters, digits, '.' or '-').`, {
      field: 'resourceGroupId',
    });
  }
}
