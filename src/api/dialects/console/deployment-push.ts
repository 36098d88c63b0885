import { deploymentOfEndpoint } from '../../../control/console/deployments.js';
import { deploymentBody } from './deployments.js';
import type { PushSource } from './events.js';

/**
 * Deployments, as the row `GET /console/api/deployments` lists, pushed when their endpoint changes: an
 * intent (`endpoint`), what a pass moved or a decision kept (`endpoint-status`), held requests or a
 * worker's readiness (`gateway`). Every feed names the endpoint, so the event's id is the endpoint's;
 * the row carries the deployment's own id, and is null once it is deleted.
 */
export const deploymentPush: PushSource = {
  topic: 'deployment',
  feeds: ['endpoint', 'endpoint-status', 'gateway'],
  action: 'serverless.read',
  kind: 'endpoint',
  load: async (control, endpointId) => {
    const d = await deploymentOfEndpoint(control.ctx, endpointId);
    if (d === undefined) return undefined;
    // A key limited to some deployments is told of them by their own ids, as the REST routes check them: their final deletion (a null row) too.
    return { accountId: d.accountId, row: d.deployment === null ? null : deploymentBody(d.deployment), auth: { kind: 'deployment', id: d.deploymentId } };
  },
};
