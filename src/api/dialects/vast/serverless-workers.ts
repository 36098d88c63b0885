import type { FastifyInstance } from 'fastify';
import { principal } from '../../edge/principal.js';
import type { ControlPlane } from '../../../control/control-plane.js';
import type { Principal } from '../../../control/principal.js';
import type { WorkerInfo } from '../../../control/serverless/workers.js';
import type { WorkerLog } from '../../../control/serverless/worker-logs.js';
import { GantryError } from '../../../domain/errors.js';
import { asObject, optBool, optNumber, optString, parseId } from './parse.js';
import { vastWorker } from './serverless-map.js';

const PHASE_WORDS = (w: WorkerInfo): string =>
  `${w.phase}${w.errorMsg !== null ? `: ${w.errorMsg}` : w.instance.statusMsg !== null ? ` (${w.instance.statusMsg})` : ''}`;

/** Said at every level when there is no worker: the CLIs print the level as it comes, and an empty one reads as a failure. */
const NO_WORKERS = 'No workers yet: their logs appear here once the autoscaler starts one.';

/**
 * Vast's log levels as the official clients read them (`--level 0..3` prints `info0`, `info1`,
 * `trace` or `debug`): info0 is one line per worker, info1 what the workers printed, trace and debug
 * both together (Gantry keeps no finer autoscaler log). No level is ever empty: a worker that printed nothing says so.
 */
export function vastLogLevels(workers: readonly WorkerInfo[], logs: readonly WorkerLog[]): Record<string, string> {
  const info0 = workers.length > 0 ? workers.map((w) => `worker ${w.instance.id}: ${PHASE_WORDS(w)}`).join('\n') : NO_WORKERS;
  const printed = (l: WorkerLog): string =>
    l.text === null ? `(logs unavailable: ${l.error ?? 'unknown'})` : l.text.trim() === '' ? '(no output yet)' : l.text;
  const info1 = logs.length > 0 ? logs.map((l) => `--- worker ${l.workerId} ---\n${printed(l)}`).join('\n') : NO_WORKERS;
  const trace = workers.length > 0 || logs.length > 0 ? `${info0}\n${info1}` : NO_WORKERS;
  // Gantry's own `logs` stays as printed (empty when nothing was): its SDK returns it unchanged.
  const logsText = logs.map((l) => `--- worker ${l.workerId} ---\n${l.text ?? `(logs unavailable: ${l.error ?? 'unknown'})`}`).join('\n');
  return { info0, info1, trace, debug: trace, logs: logsText };
}

/** Vast's autoscaler calls about workers: lists, logs, and a rolling update of a workergroup's workers. */
export function vastServerlessWorkerRoutes(app: FastifyInstance, control: ControlPlane): void {
  const sl = control.serverless;
  const endpointOf = async (p: Principal, o: Record<string, unknown>): Promise<number> => {
    const name = optString(o, 'endpoint');
    if (o.id === undefined && name !== null) {
      const ep = await sl.findEndpoint(p, name);
      if (!ep) throw new GantryError('ENDPOINT_NOT_FOUND', `No endpoint named '${name}'.`);
      return ep.id;
    }
    return parseId(o.id, 'endpoint id');
  };

  // A list, as Vast answers it: the serverless client's get_workers() takes nothing else.
  app.post('/get_endpoint_workers', async (req) => {
    const p = principal(req);
    return (await sl.listedWorkers(p, await endpointOf(p, asObject(req.body)))).map(vastWorker);
  });
  app.post('/get_workergroup_workers', async (req) => {
    const p = principal(req);
    return { workers: (await sl.workergroupWorkers(p, parseId(asObject(req.body).id, 'workergroup id'))).map(vastWorker) };
  });

  app.post('/get_endpoint_logs', async (req) => {
    const p = principal(req);
    const o = asObject(req.body);
    const id = await endpointOf(p, o);
    const workers = await sl.endpointWorkers(p, id);
    return vastLogLevels(workers, await sl.workerLogs(p, { endpointId: id }, optNumber(o, 'tail')));
  });
  // The CLI's `get wrkgrp-logs` asks /get_autogroup_logs/ (workergroups were autogroups).
  for (const path of ['/get_workergroup_logs', '/get_autogroup_logs']) {
    app.post(path, async (req) => {
      const p = principal(req);
      const o = asObject(req.body);
      const id = parseId(o.id, 'workergroup id');
      const workers = await sl.workergroupWorkers(p, id);
      return vastLogLevels(workers, await sl.workerLogs(p, { workergroupId: id }, optNumber(o, 'tail')));
    });
  }

  // `update workers`: replace every worker of the workergroup, one at a time, with one made from its template now.
  app.post('/update_workers', async (req) => {
    const o = asObject(req.body);
    const id = parseId(o.workergroup_id, 'workergroup id');
    if (optBool(o, 'cancel_update') === true) {
      const r = await sl.cancelWorkerUpdate(principal(req), id);
      return { success: true, cancelled: true, msg: r.wasUpdating ? `Update of workergroup ${id} cancelled.` : `Workergroup ${id} had no update in progress.` };
    }
    const r = await sl.updateWorkers(principal(req), id);
    return { success: true, workers_to_update: r.workersToUpdate, msg: `Rolling update of workergroup ${id}: ${r.workersToUpdate} worker(s) to replace.` };
  });
}
