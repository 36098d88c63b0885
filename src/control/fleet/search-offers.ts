import { offersOf, type OfferRow } from '../../domain/offer/offer.js';
import { applyQuery, type OfferQuery } from '../../domain/offer/query.js';
import type { ControlContext } from '../context.js';
import { requireAccountKey, type Principal } from '../principal.js';

/** Offers are computed from machines and their free GPUs; rented GPUs disappear from offers. */
export async function searchOffers(ctx: ControlContext, p: Principal, q: OfferQuery): Promise<OfferRow[]> {
  requireAccountKey(p);
  const [machines, allocated, rented] = await Promise.all([ctx.machines.list(), ctx.store.allocatedGpuCounts(), ctx.store.machinesRentedBy(p.accountId)]);
  const rows: OfferRow[] = [];
  for (const m of machines) {
    const free = m.numGpus - (allocated.get(m.id) ?? 0);
    rows.push(...offersOf(m, free, { type: q.type, allocatedStorageGb: q.allocatedStorageGb, rentedByCaller: rented.has(m.id) }));
  }
  return applyQuery(rows, q, [{ field: 'score', dir: 'desc' }]);
}
