import type { DeploymentView } from '../../../control/serverless/deployments.js';
import { holdsCompute } from '../../../domain/instance/status.js';
import type { EndpointStatus, EndpointTarget } from '../../../domain/serverless/lifecycle.js';
import type { DeploymentSource } from '../../../domain/serverless/records.js';
import { isoTime } from './query.js';

export const AICORE_STATUSES = ['PENDING', 'RUNNING', 'COMPLETED', 'DEAD', 'STOPPING', 'STOPPED', 'UNKNOWN'] as const;
export type AicoreStatus = (typeof AICORE_STATUSES)[number];

/** The core status as AI Core names it (ARCHITECTURE.md, "Deployment status in each dialect"). */
export function aicoreStatus(v: Pick<DeploymentView, 'endpoint' | 'workers'>): AicoreStatus {
  const s: EndpointStatus = v.endpoint.status;
  switch (s) {
    case 'unknown':
      return 'UNKNOWN';
    case 'pending':
      return 'PENDING';
    case 'running':
      return 'RUNNING';
    case 'stopping':
      return 'STOPPING';
    case 'stopped':
      return 'STOPPED';
    case 'failed':
      return 'DEAD';
    // Being deleted (AI Core deletes only what runs nothing: stopped, dead, not yet scheduled): removing
    // stopped workers is bookkeeping, so it stays STOPPED; STOPPING only while a worker still runs.
    case 'deleting':
    case 'deleted':
      return v.workers.some((w) => holdsCompute(w.instance.status)) ? 'STOPPING' : 'STOPPED';
  }
}

const TARGETS: Readonly<Record<EndpointTarget, string>> = { running: 'RUNNING', stopped: 'STOPPED', deleted: 'DELETED' };

/** What each status means, when the engine has nothing more specific to say (AI Core users are confused by an empty message). */
const DEFAULT_MESSAGES: Readonly<Record<AicoreStatus, string>> = {
  UNKNOWN: 'Deployment accepted; it is being scheduled.',
  PENDING: 'Workers are starting.',
  RUNNING: 'Deployment is running.',
  STOPPING: 'Deployment is stopping: new requests are refused, accepted ones are finished.',
  STOPPED: 'Deployment is stopped; no compute is held.',
  DEAD: 'Deployment failed.',
  COMPLETED: 'Deployment completed.',
};

/** `{AI_API_URL}/v2/inference/deployments/{id}`. */
export function inferenceUrl(base: string, uid: string): string {
  return `${base.replace(/\/$/, '')}/v2/inference/deployments/${uid}`;
}

/**
 * An engine deployment as AI Core's `AiDeployment` (with `statusDetails` for the detail GET).
 * `deploymentUrl` is empty until it runs; `details` carries the model the configuration names,
 * where SAP's deployment resolvers look for it.
 */
/** `serving`: what the deployment serves while that differs from its configuration (servingSource); null: the same. */
export function aicoreDeployment(
  v: DeploymentView,
  base: string,
  o: { withDetails: boolean; serving?: Pick<DeploymentSource, 'model' | 'resourcePlan'> | null },
): Record<string, unknown> {
  const d = v.deployment;
  const ep = v.endpoint;
  const status = aicoreStatus(v);
  const src = d.source;
  const served = o.serving ?? src;
  const running = v.workers.filter((w) => w.phase === 'ready').length;
  const completed = (status === 'STOPPED' || status === 'DEAD') && ep.completedAt !== null;
  const out: Record<string, unknown> = {
    id: d.uid,
    deploymentUrl: status === 'RUNNING' ? inferenceUrl(base, d.uid) : '',
    configurationId: src?.configurationId ?? '',
    configurationName: src?.configurationName ?? d.name,
    executableId: src?.executableId ?? '',
    scenarioId: src?.scenarioId ?? '',
    status,
    statusMessage: (ep.statusMsg ?? DEFAULT_MESSAGES[status]).slice(0, 256),
    targetStatus: TARGETS[ep.target],
    lastOperation: d.lastOperation.toUpperCase(),
    ...(d.runningSourceId !== null ? { latestRunningConfigurationId: d.runningSourceId } : {}),
    ttl: d.ttl,
    details: {
      scaling: { backendDetails: { predictor: { minReplicas: ep.params.minWorkers, maxReplicas: ep.params.maxWorkers, runningReplicas: running } } },
      resources: {
        backendDetails: {
          // What serves now: a resolver picking deployments by model must find the one that answers it.
          ...(served?.model != null ? { model: { name: served.model.name, version: served.model.version } } : {}),
          ...(served?.resourcePlan != null ? { predictor: { resourcePlan: served.resourcePlan } } : {}),
        },
      },
    },
    createdAt: isoTime(d.createdAt),
    modifiedAt: isoTime(Math.max(d.updatedAt, ep.updatedAt)),
    submissionTime: isoTime(d.createdAt),
    ...(ep.startedAt !== null ? { startTime: isoTime(ep.startedAt) } : {}),
    ...(completed && ep.completedAt !== null ? { completionTime: isoTime(ep.completedAt) } : {}),
  };
  if (o.withDetails) out.statusDetails = statusDetails(v);
  return out;
}

/**
 * The workers behind the status: each one's phase and, when it failed, why; and the failures the
 * engine counted (a DEAD deployment's workers are gone, their exit codes and output are kept here).
 */
function statusDetails(v: DeploymentView): Record<string, unknown> {
  const failures = v.endpoint.memory.failures;
  return {
    ...(failures !== undefined && failures.last.length > 0
      ? {
          failures: {
            count: failures.count,
            latest: failures.last.map((f) => ({
              workerId: String(f.workerId),
              exitCode: f.exitCode,
              ...(f.statusMsg !== null ? { message: f.statusMsg } : {}),
              ...(f.output !== null ? { output: f.output } : {}),
            })),
          },
        }
      : {}),
    workers: v.workers.map((w) => ({
      id: String(w.instance.id),
      phase: w.phase,
      ...(w.errorMsg !== null ? { message: w.errorMsg } : w.instance.statusMsg !== null ? { message: w.instance.statusMsg } : {}),
    })),
    ...(v.next !== null ? { nextConfigurationId: v.next.revision } : {}),
    ...(v.pending.queued + v.pending.inFlight > 0 ? { requests: { queued: v.pending.queued, inFlight: v.pending.inFlight } } : {}),
  };
}
