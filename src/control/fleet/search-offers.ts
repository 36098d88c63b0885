import { offersOf, type Offer } from '../../domain/offer/offer.js';
import { DEFAULT_OFFER_ORDER, offerFieldType, type OfferSearch } from '../../domain/offer/search.js';
import { applyQuery } from '../../domain/query/filter.js';
import type { ControlContext } from '../context.js';
import { authorize, type Principal } from '../principal.js';

/** Offers are computed from machines and their free GPUs and vCPUs; rented ones disappear from offers. */
export async function searchOffers(ctx: ControlContext, p: Principal, q: OfferSearch): Promise<Offer[]> {
  authorize(p, 'offer.search');
  return findOffers(ctx, p, q);
}

/** The search itself, for use cases that search on the caller's behalf under their own action (launch instance). */
export function findOffers(ctx: ControlContext, p: Principal, q: OfferSearch): Promise<Offer[]> {
  return ctx.offers.search(q, p.accountId);
}

/**
 * The full computation the offers index answers like: every machine and every allocation read now,
 * every offer built. Kept as the reference the index is tested against.
 */
export async function scanOffers(ctx: Pick<ControlContext, 'store' | 'clock'>, accountId: number, q: OfferSearch): Promise<Offer[]> {
  const [machines, allocated, cpu, rented] = await Promise.all([
    ctx.store.listMachines(ctx.clock.now()),
    ctx.store.allocatedGpuCounts(),
    ctx.store.allocatedCpu(),
    ctx.store.machinesRentedBy(accountId),
  ]);
  const offers: Offer[] = [];
  for (const m of machines) {
    const free = m.numGpus - (allocated.get(m.id) ?? 0);
    const used = cpu.get(m.id);
    offers.push(
      ...offersOf(m, free, {
        type: q.type,
        allocatedStorageGb: q.allocatedStorageGb,
        rentedByCaller: rented.has(m.id),
        freeCpuCores: Math.max(0, m.cpuCores - (used?.cores ?? 0)),
        freeRamMb: Math.max(0, m.cpuRamMb - (used?.ramMb ?? 0)),
      }),
    );
  }
  return applyQuery(offers, q, offerFieldType, DEFAULT_OFFER_ORDER);
}
