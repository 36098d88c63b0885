import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { createInstance } from '../instances/create-instance.js';
import { searchOffers } from '../fleet/search-offers.js';
import { placementSearch } from '../../domain/offer/search.js';
import { ownerOf } from './workers.js';
import type { EndpointRecord, WorkergroupRecord } from '../../domain/serverless/records.js';
import type { InstanceRecord } from '../../domain/instance/instance.js';

/**
 * Create one worker for a workergroup: the cheapest smallest offer its search matches, rented like
 * any instance (so billing, reconciling and the orphan sweep treat it like one). Null when no offer
 * matches or the chosen one was taken meanwhile; the loop tries again later.
 */
export async function recruitWorker(ctx: ControlContext, ep: EndpointRecord, wg: WorkergroupRecord): Promise<InstanceRecord | null> {
  const owner = ownerOf(ep);
  const offers = await searchOffers(ctx, owner, placementSearch(wg.placement, wg.gpuRamGb));
  for (const offer of offers.slice(0, 3)) {
    try {
      const { instance } = await createInstance(
        ctx,
        owner,
        {
          offerId: offer.id,
          image: wg.template.image,
          diskGb: Math.min(wg.template.diskGb, offer.diskSpaceGb),
          env: { env: wg.template.env, ports: wg.template.ports },
          onstart: wg.template.onstart,
          entrypoint: wg.template.entrypoint ?? null,
          args: wg.template.args,
          runtype: wg.template.args !== null || (wg.template.entrypoint ?? null) !== null ? 'args' : null,
          label: `${ep.name} worker`,
          targetState: 'running',
          offerType: 'on-demand',
          bidPrice: null,
        },
        { workergroupId: wg.id, endpointId: ep.id },
      );
      ctx.log.info({ endpointId: ep.id, workergroupId: wg.id, instanceId: instance.id, machineId: instance.machineId }, 'worker recruited');
      return instance;
    } catch (err) {
      // Someone else rented it between search and create: take the next offer.
      if (err instanceof GantryError && (err.kind === 'conflict' || err.code === 'OFFER_NOT_FOUND')) continue;
      throw err;
    }
  }
  return null;
}
