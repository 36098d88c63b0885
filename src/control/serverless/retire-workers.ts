import type { ControlContext } from '../context.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';
import { drainProgress, drainRanOut, type Drain } from './worker-drain.js';
import { actOnWorker, type WorkerInfo } from './workers.js';

/**
 * The workers of a deleted workergroup (Vast's `DELETE /workergroups/{id}/`): routing sends them no new
 * request from the delete on (routing.ts, every replica: the delete is an intent they hear), each
 * finishes what it holds, then is destroyed; bounded by stopDrainTimeoutMs, as a stop's drain and a
 * rolling update's are. Destroyed at once, they cut the requests they held (502 after a few seconds).
 *
 * Run by the serverless loop holding the endpoint's lease. The drains live in that replica's memory, per
 * store: if the lease moves, the new holder begins them again (the bound restarts; none is kept for ever).
 */
const memory = new WeakMap<object, Map<number, Drain>>();

export interface Retiring {
  /** Workers still finishing what they hold. */
  readonly waiting: number;
  /** Requests they still work on, as far as anyone knows. */
  readonly inFlight: number;
}

/** Whether the endpoint may hold requests (it serves, or drains for a stop): only then do a deleted group's workers drain first. */
export const holdsRequests = (ep: EndpointRecord): boolean => ep.target === 'running' || ep.status === 'stopping';

/**
 * Destroy the workers of deleted workergroups, each once it holds nothing (at the latest after
 * stopDrainTimeoutMs); at once when the endpoint holds no request (stopped, perhaps before they drained:
 * stopped, they still paid for their disk).
 */
export async function retireWorkers(ctx: ControlContext, ep: EndpointRecord, orphans: readonly WorkerInfo[]): Promise<Retiring> {
  let drains = memory.get(ctx.store);
  if (drains === undefined) memory.set(ctx.store, (drains = new Map<number, Drain>()));
  const drain = holdsRequests(ep);
  const now = ctx.clock.now();
  let waiting = 0;
  let inFlight = 0;
  for (const w of orphans) {
    const id = w.instance.id;
    if (w.instance.target === 'deleted') {
      drains.delete(id);
      continue;
    }
    if (drain) {
      let d = drains.get(id);
      if (d === undefined) drains.set(id, (d = { workerId: id, since: now, fencedUntil: 0, rebootAsked: false }));
      const p = drainProgress(ctx, ep, w, d);
      if (!p.drained && !p.late) {
        waiting++;
        inFlight += p.inFlight;
        continue;
      }
      if (!p.drained) drainRanOut(ctx, ep, id, p.inFlight, 'destroyed with its deleted workergroup');
    }
    drains.delete(id);
    await actOnWorker(ctx, ep, id, 'destroy');
  }
  return { waiting, inFlight };
}

/** What the endpoint's status_msg adds while workers of a deleted workergroup finish their requests. */
export function retiringMsg(r: Retiring): string | null {
  return r.waiting === 0 ? null : `${r.waiting} worker(s) of a deleted workergroup finishing ${r.inFlight} request(s) before they are destroyed`;
}
