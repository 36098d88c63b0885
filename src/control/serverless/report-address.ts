import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { endpointOfReportRef } from '../keys.js';

/**
 * The endpoint a worker's report address names (`/report/{ref}/…`): one this server gave out (its HMAC tag), else
 * "not found", so no one has keys made for endpoints of their choosing. `forKey`: the key is asked for, which makes
 * one the first time: only for an endpoint not deleted (its workers' reports still count while they are retired).
 */
export async function reportAddressEndpoint(ctx: ControlContext, ref: string, forKey: boolean): Promise<number> {
  const id = endpointOfReportRef(ctx.secret, ref);
  const live = async (endpointId: number): Promise<boolean> => {
    const ep = await ctx.store.getEndpoint(endpointId);
    return ep !== undefined && ep.status !== 'deleted';
  };
  if (id === null || (forKey && !(await live(id)))) throw new GantryError('NOT_FOUND', 'This is not a report address of a live endpoint of this server.');
  return id;
}
