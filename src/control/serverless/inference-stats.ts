import type { ControlContext } from '../context.js';
import type { Principal } from '../principal.js';
import { ownDeployment, type DeploymentRef } from './deployments.js';
import { ZERO_COUNTERS, type InferenceCounters } from './traffic-gate.js';
import { workersOf, type WorkerInfo } from './workers.js';

export interface WorkerInferenceStats {
  readonly worker: WorkerInfo;
  /** startTime is when the worker last started running (its instance), not its first request. */
  readonly counters: InferenceCounters;
}

export interface DeploymentInferenceStats {
  readonly endpointId: number;
  /** Every request of the deployment, including those refused or timed out before reaching a worker. */
  readonly deployment: InferenceCounters;
  /** One entry per current worker, zeros for one that took no request yet. */
  readonly workers: readonly WorkerInferenceStats[];
}

/**
 * The inference counters of a deployment (Elasticsearch's deployment stats), as this replica's
 * gateway counted them: with several replicas behind a load balancer each counts the requests it
 * took (ARCHITECTURE.md, "Inference counters").
 */
export async function inferenceStats(ctx: ControlContext, p: Principal, ref: DeploymentRef | number): Promise<DeploymentInferenceStats> {
  const d = await ownDeployment(ctx, p, typeof ref === 'number' ? { id: ref } : ref, 'serverless.read');
  const s = ctx.traffic.stats(d.endpointId);
  const workers = (await workersOf(ctx, d.endpointId)).map((w) => {
    const c = s.workers.get(w.instance.id) ?? ZERO_COUNTERS;
    const running = w.instance.status === 'running' ? w.instance.statusChangedAt : null;
    return { worker: w, counters: { ...c, startTime: running ?? c.startTime } };
  });
  return { endpointId: d.endpointId, deployment: s.deployment, workers };
}
