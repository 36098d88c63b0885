import type { DeploymentView } from '../../../control/serverless/deployments.js';
import type { ListedWorker } from '../../../control/serverless/bootstrap-phases.js';
import { vastParams } from './endpoint-params.js';
import { placementText } from './offers.js';
import type { WorkerPhase } from '../../../domain/serverless/workers.js';
import type { EndpointRecord, WorkergroupRecord, WorkerTemplate } from '../../../domain/serverless/records.js';

/** Vast's names for worker states. */
const PHASE_NAMES: Readonly<Record<WorkerPhase, string>> = {
  creating: 'Creating',
  loading: 'Loading',
  model_loading: 'Model Loading',
  ready: 'Ready',
  inactive: 'Inactive',
  stopping: 'Stopping',
  starting: 'Starting',
  rebooting: 'Rebooting',
  destroying: 'Destroying',
  error: 'Error',
  updating: 'Updating',
};

const seconds = (ms: number): number => ms / 1000;

/** Vast's endpoint_state: active, suspended or stopped (a stop in progress, and a dead endpoint, read stopped). */
export function endpointState(ep: Pick<EndpointRecord, 'target' | 'suspended' | 'status'>): string {
  if (ep.target !== 'running' || ep.status === 'failed') return 'stopped';
  return ep.suspended ? 'suspended' : 'active';
}

export function vastEndpoint(ep: EndpointRecord): Record<string, unknown> {
  return {
    id: ep.id,
    endpoint_name: ep.name,
    endpoint_state: endpointState(ep),
    api_key: ep.apiKey,
    user_id: ep.accountId,
    created_at: seconds(ep.createdAt),
    ...vastParams(ep.params),
    alias_of: ep.aliasOf,
    gantry_status: ep.status,
    status_msg: ep.statusMsg,
  };
}

export function vastWorkergroup(wg: WorkergroupRecord, ep: EndpointRecord | undefined): Record<string, unknown> {
  return {
    id: wg.id,
    endpoint_id: wg.endpointId,
    endpoint_name: ep?.name ?? null,
    api_key: ep?.apiKey ?? null,
    user_id: wg.accountId,
    created_at: seconds(wg.createdAt),
    search_params: placementText(wg.placement),
    launch_args: wg.launchArgs,
    gpu_ram: wg.gpuRamGb,
    test_workers: wg.testWorkers,
    image: wg.template.image,
    env: wg.template.env,
    ports: wg.template.ports.map((p) => `${p.containerPort}/${p.proto}`),
    onstart: wg.template.onstart,
    args: wg.template.args,
    disk: wg.template.diskGb,
    ...(ep !== undefined ? vastParams(ep.params) : {}),
  };
}

/**
 * A worker row. The serverless client turns every numeric field it knows into a float, so none is
 * ever null: perf and measured_perf are the worker's reported benchmark, 0 until it reports one.
 */
export function vastWorker(w: ListedWorker): Record<string, unknown> {
  const r = w.report;
  return {
    id: w.instance.id,
    status: PHASE_NAMES[w.phase],
    url: w.url,
    created_at: seconds(w.instance.createdAt),
    started_at: w.instance.startDate === null ? 0 : seconds(w.instance.startDate),
    workergroup_id: w.instance.workergroupId,
    machine_id: w.instance.machineId,
    gpu_name: w.gpuName,
    num_gpus: w.instance.numGpus,
    cur_load: r?.curLoad ?? 0,
    perf: r?.maxPerf ?? 0,
    measured_perf: r?.maxPerf ?? 0,
    cur_perf: r?.curPerf ?? 0,
    num_requests_working: r?.numRequestsWorking ?? 0,
    reqs_working: r?.numRequestsWorking ?? 0,
    disk_space: w.instance.diskGb,
    loaded: r?.loaded ?? false,
    error_msg: w.errorMsg,
    status_msg: w.instance.statusMsg,
    gantry_status: w.instance.status,
    // A code deployment's worker: where it is in Vast's bootstrap (downloading … ready), Gantry's own field.
    ...(w.bootstrapPhase !== undefined ? { bootstrap_phase: w.bootstrapPhase } : {}),
  };
}

export function vastDeployment(v: DeploymentView): Record<string, unknown> {
  const t = v.workergroup?.template;
  return { ...imageDeployment(v, t), ...(v.code !== undefined ? codeFields(v, v.code) : {}) };
}

/** A code deployment's fields as the SDK's `DeploymentData` reads them (decision 020): its code, version, ttl and heartbeat. */
function codeFields(v: DeploymentView, c: NonNullable<DeploymentView['code']>): Record<string, unknown> {
  const spec = c.record.spec;
  return {
    image: spec.image,
    env: spec.env,
    search_params: spec.searchParams,
    storage: spec.storageGb,
    file_hash: c.current?.fileHash ?? null,
    s3_key: c.current === null ? null : `${c.current.accountId}/${c.current.fileHash}`,
    current_version_id: c.current?.id ?? null,
    last_healthy_version_id: c.current !== null && v.workers.some((w) => w.phase === 'ready') ? c.current.id : null,
    version_label: c.current?.versionLabel ?? null,
    ttl: c.record.ttlS,
    last_client_heartbeat: c.record.lastHeartbeatAt === null ? null : seconds(c.record.lastHeartbeatAt),
  };
}

function imageDeployment(v: DeploymentView, t: WorkerTemplate | undefined): Record<string, unknown> {
  return {
    id: v.deployment.id,
    name: v.deployment.name,
    tag: v.deployment.tag,
    image: t?.image ?? null,
    endpoint_id: v.endpoint.id,
    endpoint_state: endpointState(v.endpoint),
    workergroup_id: v.deployment.workergroupId,
    env:
      t === undefined
        ? null
        : Object.entries(t.env)
            .map(([k, val]) => `-e ${k}=${val}`)
            .concat(t.ports.map((p) => `-p ${p.containerPort}:${p.containerPort}/${p.proto}`))
            .join(' '),
    onstart: t?.onstart ?? null,
    args: t?.args ?? null,
    search_params: v.workergroup !== null ? placementText(v.workergroup.placement) : null,
    file_hash: null,
    s3_key: null,
    // Versions are the workergroups Gantry keeps (see serverless-deployments.ts): the current one serves.
    current_version_id: v.workergroup?.id ?? null,
    last_healthy_version_id: v.workergroup !== null && v.workers.some((w) => w.phase === 'ready') ? v.workergroup.id : null,
    storage: t?.diskGb ?? null,
    ttl: null,
    last_client_heartbeat: null,
    created_at: seconds(v.deployment.createdAt),
    updated_at: seconds(Math.max(v.deployment.updatedAt, v.endpoint.updatedAt)),
    ...vastParams(v.endpoint.params),
    workers: v.workers.length,
    worker_count: v.workers.length,
    ready_workers: v.workers.filter((w) => w.phase === 'ready').length,
    // Held by the replica that answers this call (each replica has its own queue).
    queued_requests: v.pending.queued,
    requests_in_flight: v.pending.inFlight,
    gantry_status: v.endpoint.status,
    status_msg: v.endpoint.statusMsg,
  };
}
