import type { Generated } from 'kysely';

/** The serverless tables (endpoints, workergroups, deployments, worker reports, gateway counts), kept apart so schema.ts stays small. */
export interface EndpointTable {
  id: Generated<number>;
  account_id: number;
  name: string;
  /** Equals name while the endpoint lives, null once deleted: the unique index over it frees the name. */
  live_name: string | null;
  api_key: string;
  params_json: string;
  suspended: number;
  alias_of: string | null;
  target: string;
  status: string;
  status_msg: string | null;
  generation: number;
  stop_drain: number;
  stop_deadline: number | null;
  stop_requested_at: number | null;
  /** closing | draining | stopping_workers while status is stopping (0006). */
  stop_phase: string | null;
  stop_workers_deadline: number | null;
  stop_drain_timed_out: Generated<number>;
  stop_answered: Generated<number>;
  stop_failed: Generated<number>;
  /** 0010: EndpointLimits as JSON; null: none. */
  limits_json: Generated<string | null>;
  stop_reject_queued: Generated<number>;
  stop_rejected: Generated<number>;
  /** 0030: the requests a stop fails are rejected (REQUEST_REJECTED_BY_STOP), Elasticsearch's way. */
  stop_rejects: Generated<number>;
  memory_json: string;
  last_activity_at: number;
  /** 0009 */
  started_at: number | null;
  completed_at: number | null;
  created_at: number;
  updated_at: number;
  last_processed_at: number;
  lease_owner: string | null;
  lease_token: string | null;
  lease_expires_at: number | null;
  /** 0032: claims pass the endpoint by until then; 0: woken during a pass (applyEndpointPass rests it not). */
  rest_until: Generated<number | null>;
}

export interface WorkergroupTable {
  id: Generated<number>;
  account_id: number;
  endpoint_id: number;
  template_json: string;
  /** Before 0005: the placement as the Vast CLI's query text; now empty. */
  search_params: string;
  placement_json: string | null;
  launch_args: string | null;
  gpu_ram_gb: number | null;
  test_workers: number;
  /** 0009 */
  revision: string | null;
  /** 0018: a rolling update of its workers replaces those created before this time (ms). */
  workers_outdated_before: number | null;
  created_at: number;
  deleted_at: number | null;
}

export interface DeploymentTable {
  id: Generated<number>;
  account_id: number;
  name: string;
  tag: string;
  endpoint_id: number;
  workergroup_id: number;
  /** 0009 */
  uid: string;
  resource_group: Generated<string>;
  source_json: string | null;
  running_source_id: string | null;
  rollout_error: string | null;
  ttl: string | null;
  expires_at: number | null;
  last_operation: Generated<string>;
  created_at: number;
  updated_at: number;
  deleted_at: number | null;
}

/** A worker's latest /worker_status/ report (one row per worker instance, overwritten). */
export interface WorkerReportTable {
  instance_id: number;
  cur_load: number;
  max_perf: number | null;
  cur_perf: number;
  num_requests_working: number;
  loaded: number;
  error_msg: string | null;
  reported_at: number;
  keyed: number;
}

/** Requests each replica's gateway holds per endpoint (queued or in flight), so a drain anywhere sees them all. */
export interface GatewayPendingTable {
  replica: string;
  endpoint_id: number;
  pending: number;
  updated_at: number;
}

/** 0025: the code side of a code deployment. */
export interface CodeDeploymentTable {
  deployment_id: number;
  account_id: number;
  spec_json: string;
  docker_login_json: string | null;
  current_version_id: number | null;
  ttl_s: number | null;
  last_heartbeat_at: number | null;
  created_at: number;
  updated_at: number;
}

/** 0025: one row per distinct file_hash of a code deployment. */
export interface CodeVersionTable {
  id: Generated<number>;
  deployment_id: number;
  account_id: number;
  file_hash: string;
  file_size: number;
  version_label: string | null;
  uploaded_at: number | null;
  created_at: number;
  last_used_at: number;
}

/** 0025: single-use upload tokens, by their nonce. */
export interface CodeUploadTokenTable {
  nonce: string;
  version_id: number;
  expires_at: number;
  used_at: number | null;
}

export interface ServerlessTables {
  code_deployments: CodeDeploymentTable;
  code_versions: CodeVersionTable;
  code_upload_tokens: CodeUploadTokenTable;
  endpoints: EndpointTable;
  workergroups: WorkergroupTable;
  deployments: DeploymentTable;
  worker_reports: WorkerReportTable;
  gateway_pending: GatewayPendingTable;
}
