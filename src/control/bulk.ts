import { GantryError } from '../domain/errors.js';

/** AI Core's bulk PATCH limit, used by every bulk change. */
export const MAX_BULK_ITEMS = 100;

export interface BulkItemResult<K = number> {
  readonly id: K;
  readonly ok: boolean;
  readonly changed: boolean;
  readonly error: GantryError | null;
}

/**
 * A bulk request's ids: at least one, at most MAX_BULK_ITEMS, each named once unless `repeats` (and, for numbers,
 * a positive integer).
 */
export function checkBulkIds(ids: readonly (number | string)[], noun: string, o: { readonly repeats?: boolean } = {}): void {
  if (ids.length === 0) throw new GantryError('INVALID_ARGUMENT', `Give at least one ${noun} id.`);
  if (ids.length > MAX_BULK_ITEMS) throw new GantryError('INVALID_ARGUMENT', `At most ${MAX_BULK_ITEMS} ${noun}s per request; got ${ids.length}.`);
  const bad = ids.find((id) => typeof id === 'number' && (!Number.isSafeInteger(id) || id <= 0));
  if (bad !== undefined) throw new GantryError('INVALID_ARGUMENT', `${JSON.stringify(bad)} is not a valid ${noun} id.`, { id: bad });
  const twice = o.repeats === true ? undefined : ids.find((id, i) => ids.indexOf(id) !== i);
  if (twice !== undefined)
    throw new GantryError('INVALID_ARGUMENT', `Each ${noun} id may appear only once per request; ${JSON.stringify(twice)} appears twice.`, { id: twice });
}

/**
 * Apply one change per id, in order, and answer one result per item; one item's refusal (a
 * GantryError) does not undo the others. Anything else is a fault and propagates. `repeats` lets an
 * id come more than once (a create per offer named); `change` gets the item's index too.
 */
export async function changeEach<K extends number | string = number>(
  ids: readonly K[],
  noun: string,
  change: (id: K, index: number) => Promise<{ readonly changed: boolean }>,
  o: { readonly repeats?: boolean } = {},
): Promise<BulkItemResult<K>[]> {
  checkBulkIds(ids, noun, o);
  const out: BulkItemResult<K>[] = [];
  for (const [index, id] of ids.entries()) {
    try {
      const r = await change(id, index);
      out.push({ id, ok: true, changed: r.changed, error: null });
    } catch (err) {
      if (!(err instanceof GantryError)) throw err;
      out.push({ id, ok: false, changed: false, error: err });
    }
  }
  return out;
}
