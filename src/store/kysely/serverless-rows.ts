import { DEFAULT_PLACEMENT, type WorkerPlacement } from '../../domain/offer/search.js';
import type { Selectable } from 'kysely';
import { EMPTY_MEMORY, type ScaleMemory } from '../../domain/serverless/autoscale.js';
import { isEndpointStopPhase, type EndpointStatus, type EndpointTarget } from '../../domain/serverless/lifecycle.js';
import { DEFAULT_ENDPOINT_PARAMS, type EndpointParams } from '../../domain/serverless/params.js';
import { NO_LIMITS, type EndpointLimits } from '../../domain/serverless/limits.js';
import { parseJson } from './rows.js';
import type { DeploymentTable, EndpointTable, WorkergroupTable } from './serverless-schema.js';
import type {
  DeploymentOperation,
  DeploymentRecord,
  DeploymentSource,
  EndpointRecord,
  WorkergroupRecord,
  WorkerTemplate,
} from '../../domain/serverless/records.js';

/** Row ↔ record mapping of the serverless tables. */
export function toEndpoint(r: Selectable<EndpointTable>): EndpointRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    apiKey: r.api_key,
    params: { ...DEFAULT_ENDPOINT_PARAMS, ...parseJson<Partial<EndpointParams>>(r.params_json, {}) },
    limits: { ...NO_LIMITS, ...parseJson<Partial<EndpointLimits>>(r.limits_json, {}) },
    suspended: r.suspended === 1,
    aliasOf: r.alias_of,
    target: r.target as EndpointTarget,
    status: r.status as EndpointStatus,
    statusMsg: r.status_msg,
    generation: r.generation,
    stopDrain: r.stop_drain === 1,
    stopRejectQueued: r.stop_reject_queued === 1,
    stopRejects: r.stop_rejects === 1,
    stopDeadline: r.stop_deadline,
    stopRequestedAt: r.stop_requested_at,
    stopPhase: r.stop_phase !== null && isEndpointStopPhase(r.stop_phase) ? r.stop_phase : null,
    stopWorkersDeadline: r.stop_workers_deadline,
    stopDrainTimedOut: r.stop_drain_timed_out === 1,
    stopAnswered: r.stop_answered,
    stopFailed: r.stop_failed,
    stopRejected: r.stop_rejected,
    memory: parseJson<ScaleMemory>(r.memory_json, EMPTY_MEMORY),
    lastActivityAt: Number(r.last_activity_at),
    startedAt: r.started_at === null ? null : Number(r.started_at),
    completedAt: r.completed_at === null ? null : Number(r.completed_at),
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
    leaseToken: r.lease_token,
    restUntil: r.rest_until === null ? null : Number(r.rest_until),
  };
}

export function toWorkergroup(r: Selectable<WorkergroupTable>): WorkergroupRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    endpointId: r.endpoint_id,
    template: parseJson<WorkerTemplate>(r.template_json, { image: '', env: {}, ports: [], onstart: null, args: null, diskGb: 8 }),
    // Null only for a row from before 0005 that src/main has not compiled yet (or one an older replica
    // wrote during a rolling upgrade): the default placement until then, never "any machine".
    placement: parseJson<WorkerPlacement>(r.placement_json, DEFAULT_PLACEMENT),
    launchArgs: r.launch_args,
    gpuRamGb: r.gpu_ram_gb,
    testWorkers: r.test_workers,
    revision: r.revision,
    workersOutdatedBefore: r.workers_outdated_before === null ? null : Number(r.workers_outdated_before),
    createdAt: Number(r.created_at),
  };
}

export function toDeployment(r: Selectable<DeploymentTable>): DeploymentRecord {
  return {
    id: r.id,
    accountId: r.account_id,
    name: r.name,
    tag: r.tag,
    endpointId: r.endpoint_id,
    workergroupId: r.workergroup_id,
    uid: r.uid,
    resourceGroup: r.resource_group,
    source: parseJson<DeploymentSource | null>(r.source_json, null),
    runningSourceId: r.running_source_id,
    rolloutError: r.rollout_error,
    ttl: r.ttl,
    expiresAt: r.expires_at === null ? null : Number(r.expires_at),
    lastOperation: r.last_operation as DeploymentOperation,
    createdAt: Number(r.created_at),
    updatedAt: Number(r.updated_at),
  };
}
