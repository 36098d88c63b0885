import type { FastifyInstance } from 'fastify';
import {
  consoleDeployment,
  consoleDeployments,
  deleteConsoleDeployment,
  startConsoleDeployment,
  stopConsoleDeployment,
  type ConsoleDeployment,
} from '../../../control/console/deployments.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';
import { flag, nonNegative, onlyFields, wholeNumber } from './input.js';

/** A deployment as the console's pages read it (snake_case, times in unix seconds). */
export function deploymentBody(c: ConsoleDeployment): Record<string, unknown> {
  const { deployment: d, endpoint: ep } = c.view;
  return {
    id: d.id,
    uid: d.uid,
    name: d.name,
    tag: d.tag,
    resource_group: d.resourceGroup,
    api: c.api,
    endpoint_id: ep.id,
    endpoint_name: ep.name,
    state: ep.status,
    target: ep.target,
    status_msg: ep.statusMsg,
    stop_phase: ep.stopPhase,
    created_at: d.createdAt / 1000,
    workers: c.view.workers.map((w) => ({ id: w.instance.id, phase: w.phase, machine_id: w.instance.machineId, status: w.instance.status, error: w.errorMsg })),
    workers_by_state: c.workersByPhase,
    min_workers: ep.params.minWorkers,
    max_workers: ep.params.maxWorkers,
    queue: c.queued,
    held_elsewhere: c.heldElsewhere,
    in_flight: c.inFlight,
    request_rate: c.requestRate,
    stop: { answered: c.stop.answered, failed: c.stop.failed, rejected: c.stop.rejected, drain_timed_out: c.stop.drainTimedOut },
    decisions: c.decisions.map((x) => ({
      at: x.at / 1000,
      active_target: x.activeTarget,
      total_target: x.totalTarget,
      started: x.started,
      created: x.created,
      stopped: x.stopped,
      destroyed: x.destroyed,
      reason: x.reason,
      refused: x.refused,
    })),
  };
}

/**
 * Every engine deployment of the account, whichever API made it (Vast's serverless and code
 * deployments, AI Core's, Elasticsearch's trained-model deployments), and stop (drain, timeout,
 * force), start and delete over the engine's own rules.
 */
export function consoleDeploymentRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  const ctx = deps.control.ctx;
  const idOf = (params: unknown): number => wholeNumber((params as { id?: unknown }).id, 'id');

  app.get('/console/api/deployments', async (req) => {
    onlyFields(req.query, [], 'query');
    return { deployments: (await consoleDeployments(ctx, principal(req))).map(deploymentBody) };
  });

  app.get('/console/api/deployments/:id', async (req) => deploymentBody(await consoleDeployment(ctx, principal(req), idOf(req.params))));

  app.post('/console/api/deployments/:id/stop', async (req) => {
    const id = idOf(req.params);
    const b = onlyFields(req.body, ['drain', 'timeout_s', 'force'], 'body');
    const r = await stopConsoleDeployment(ctx, principal(req), id, {
      drain: flag(b.drain, 'drain', false),
      timeoutS: b.timeout_s === undefined || b.timeout_s === null ? null : nonNegative(b.timeout_s, 'timeout_s'),
      force: flag(b.force, 'force', false),
    });
    return { changed: r.changed, deployment: deploymentBody(r.deployment) };
  });

  app.post('/console/api/deployments/:id/start', async (req) => {
    const id = idOf(req.params);
    onlyFields(req.body, [], 'body');
    const r = await startConsoleDeployment(ctx, principal(req), id);
    return { changed: r.changed, deployment: deploymentBody(r.deployment) };
  });

  app.delete('/console/api/deployments/:id', async (req) => {
    const r = await deleteConsoleDeployment(ctx, principal(req), idOf(req.params));
    return { changed: r.changed };
  });
}
