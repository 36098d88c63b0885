import { codeTtlDeadline } from '../../domain/serverless/code-deployment.js';
import type { DeploymentRecord, EndpointRecord } from '../../domain/serverless/records.js';
import type { ControlContext } from '../context.js';
import { changeOwnedEndpoint } from './change-endpoint.js';
import { ownerOf } from './workers.js';

/**
 * The serverless loop's ttl step for code deployments (decision 020): a running one whose client sent
 * no heartbeat for `ttl` seconds is stopped, as its owner's stop would (requests in flight finish,
 * workers go), and kept. Answers whether it was stopped, or when to look again.
 */
export async function stopSilentCodeDeployment(
  ctx: ControlContext,
  ep: EndpointRecord,
  d: DeploymentRecord,
): Promise<{ stopped: true } | { stopped: false; recheckAt: number | null }> {
  if (ep.target !== 'running') return { stopped: false, recheckAt: null };
  const code = await ctx.store.getCodeDeployment(d.id);
  const deadline = code === undefined ? null : codeTtlDeadline(code);
  if (deadline === null) return { stopped: false, recheckAt: null };
  if (deadline > ctx.clock.now()) return { stopped: false, recheckAt: deadline };
  ctx.log.info(
    { deploymentId: d.id, ttlS: code?.ttlS, lastHeartbeatAt: code?.lastHeartbeatAt },
    'code deployment: no client heartbeat within its ttl, stopping it',
  );
  await changeOwnedEndpoint(ctx, ownerOf(ep), ep.id, 'stop', {
    stop: { finishPendingWork: true, force: false, timeoutMs: null },
    stopUnscheduled: true,
  });
  return { stopped: true };
}
