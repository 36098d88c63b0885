import type { FastifyInstance } from 'fastify';
import { consoleOverview } from '../../../control/console/overview.js';
import type { EdgeDeps } from '../../edge/dialect.js';
import { principal } from '../../edge/principal.js';

/**
 * `GET /console/api/overview`: machines and GPUs by state, instances, endpoints and deployments by
 * status, spend rate and balance. A part the key may not read is null rather than a refusal.
 */
export function consoleOverviewRoutes(app: FastifyInstance, deps: EdgeDeps): void {
  app.get('/console/api/overview', async (req) => {
    const o = await consoleOverview(deps.control.ctx, principal(req));
    return {
      machines: o.machines && { total: o.machines.total, by_state: o.machines.byState, gpus_by_state: o.machines.gpusByState },
      instances: o.instances && { total: o.instances.total, by_status: o.instances.byStatus },
      endpoints: o.endpoints && { total: o.endpoints.total, by_status: o.endpoints.byStatus },
      deployments: o.deployments && { total: o.deployments.total, by_status: o.deployments.byStatus },
      billing: o.billing && { spend_per_hour: o.billing.spendPerHour, balance: o.billing.balance },
    };
  });
}
