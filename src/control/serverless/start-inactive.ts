import type { WorkerView } from '../../domain/serverless/autoscale.js';
import type { EndpointRecord } from '../../domain/serverless/records.js';
import { holdsPlace } from '../../domain/serverless/workers.js';
import type { ControlContext } from '../context.js';
import { actOnWorker, actOnWorkerOutcome } from './workers.js';

/**
 * Start inactive workers; answers how many new workers to recruit in place of those that cannot
 * start because another instance rented their GPUs meanwhile. Such a stranded worker is not tried
 * again and again while free GPUs sit idle: after one refused start a worker is recruited
 * elsewhere. The stranded one stays a cold (inactive) worker while max_workers leaves room for
 * it, and scale-down destroys it by the cold-worker rules as any spare inactive worker; without
 * room it is destroyed now.
 */
export async function startInactive(
  ctx: ControlContext,
  ep: EndpointRecord,
  ids: readonly number[],
  views: readonly WorkerView[],
  creating: number,
): Promise<number> {
  const counted = views.filter(holdsPlace).length;
  let room = ep.params.maxWorkers - counted - creating;
  let replace = 0;
  for (const id of ids) {
    if ((await actOnWorkerOutcome(ctx, ep, id, 'start')) !== 'gpus_taken') continue;
    const kept = room > 0;
    if (kept) room--;
    else await actOnWorker(ctx, ep, id, 'destroy');
    replace++;
    ctx.log.warn({ endpointId: ep.id, instanceId: id, kept }, 'inactive worker cannot start (its GPUs are taken): recruiting elsewhere');
  }
  return replace;
}
