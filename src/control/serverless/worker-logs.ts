import { GantryError } from '../../domain/errors.js';
import type { ControlContext } from '../context.js';
import { DEFAULT_LOG_TAIL, MAX_LOG_TAIL } from '../instances/request-logs.js';
import { hostsReached } from '../reach-host.js';
import type { Principal } from '../principal.js';
import { ownEndpoint } from './endpoints.js';
import { workersOf } from './workers.js';
import { ownWorkergroup } from './workergroups.js';

/** What one worker printed last, or why it could not be read (its host is away). */
export interface WorkerLog {
  readonly workerId: number;
  readonly text: string | null;
  readonly error: string | null;
}

/**
 * The last lines of an endpoint's workers (or of one workergroup's), read from their hosts (through any replica). Reading
 * them is a read of the endpoint ('serverless.read', as AI Core's deployment logs are): the workers
 * are the endpoint's, so no per-instance scope is asked of the key.
 */
export async function workerLogs(
  ctx: ControlContext,
  p: Principal,
  of: { readonly endpointId: number } | { readonly workergroupId: number },
  tail: number | null,
): Promise<WorkerLog[]> {
  const wg = 'workergroupId' in of ? await ownWorkergroup(ctx, p, of.workergroupId, 'serverless.read') : null;
  const endpointId = wg !== null ? wg.endpointId : (await ownEndpoint(ctx, p, (of as { endpointId: number }).endpointId, 'serverless.read')).id;
  const n = tail ?? DEFAULT_LOG_TAIL;
  if (!Number.isInteger(n) || n < 0 || n > MAX_LOG_TAIL)
    throw new GantryError('INVALID_ARGUMENT', `tail must be an integer from 0 to ${MAX_LOG_TAIL}.`, { field: 'tail' });
  const workers = (await workersOf(ctx, endpointId)).filter((w) => wg === null || w.instance.workergroupId === wg.id);
  const reach = hostsReached(ctx);
  // All at once: a host whose replica does not answer costs one bound, not one per worker.
  return Promise.all(
    workers.map(async (w): Promise<WorkerLog> => {
      const workerId = w.instance.id;
      const host = await reach(w.instance.machineId);
      if (host === undefined) return { workerId, text: null, error: `the host of worker ${workerId} is not connected` };
      return host.logs(workerId, n).then(
        (text) => ({ workerId, text, error: null }),
        (err: unknown) => ({ workerId, text: null, error: err instanceof Error ? err.message : String(err) }),
      );
    }),
  );
}
