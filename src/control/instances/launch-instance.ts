import { GantryError } from '../../domain/errors.js';
import type { CreateInstanceRequest } from '../../domain/instance/create.js';
import type { OfferSearch } from '../../domain/offer/search.js';
import { changeEach, type BulkItemResult } from '../bulk.js';
import type { ControlContext } from '../context.js';
import { findOffers } from '../fleet/search-offers.js';
import { authorize, type Principal } from '../principal.js';
import { createInstance, type CreatedInstance } from './create-instance.js';

/** How many of the best offers a launch tries when another create takes one first. */
const LAUNCH_TRIES = 3;

/**
 * Search and create in one call (Vast's `launch instance`): the best offer of the search is rented; one
 * taken meanwhile (OFFER_UNAVAILABLE) gives way to the next. The search runs under the create's own action.
 */
export async function launchInstance(
  ctx: ControlContext,
  p: Principal,
  q: OfferSearch,
  request: (offerId: number) => CreateInstanceRequest,
): Promise<CreatedInstance> {
  authorize(p, 'instance.create');
  const offers = (await findOffers(ctx, p, q)).slice(0, LAUNCH_TRIES);
  if (offers.length === 0) throw new GantryError('OFFER_NOT_FOUND', 'No offer matches the launch query; search offers to see what is available.');
  let last: unknown;
  for (const o of offers) {
    try {
      return await createInstance(ctx, p, request(o.id));
    } catch (err) {
      if (!(err instanceof GantryError) || err.code !== 'OFFER_UNAVAILABLE') throw err;
      last = err;
    }
  }
  throw last;
}

/**
 * One create per offer id (Vast's `create instances`); one offer's refusal does not undo the others. An offer
 * may be named more than once: it is a size of GPU chunk on a machine, and stays offered while GPUs are free.
 */
export async function createInstances(
  ctx: ControlContext,
  p: Principal,
  offerIds: readonly number[],
  request: (offerId: number) => CreateInstanceRequest,
): Promise<(BulkItemResult & { readonly instanceId: number | null })[]> {
  authorize(p, 'instance.create');
  const made = new Map<number, number>();
  const results = await changeEach(
    offerIds,
    'offer',
    async (id, i) => {
      made.set(i, (await createInstance(ctx, p, request(id))).instance.id);
      return { changed: true };
    },
    { repeats: true },
  );
  return results.map((r, i) => ({ ...r, instanceId: made.get(i) ?? null }));
}
