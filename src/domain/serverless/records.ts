import type { WorkerPlacement } from '../offer/search.js';
import type { ScaleMemory } from './autoscale.js';
import type { EndpointStatus, EndpointStopPhase, EndpointTarget } from './lifecycle.js';
import type { EndpointLimits } from './limits.js';
import type { EndpointParams } from './params.js';

/** A serverless endpoint: a lifecycle resource (target + status) with its scaling parameters. */
export interface EndpointRecord {
  readonly id: number;
  readonly accountId: number;
  readonly name: string;
  /** The endpoint's own key: /route/ and the proxy accept it for this endpoint only. */
  readonly apiKey: string;
  readonly params: EndpointParams;
  /** Per-worker concurrency and the queue's bound (limits.ts); NO_LIMITS for Vast and AI Core. */
  readonly limits: EndpointLimits;
  /** Vast's `suspended`: serves with what it has; the autoscaler recruits nobody. */
  readonly suspended: boolean;
  /** Name of another endpoint of the same account whose traffic this one forwards (a route alias). */
  readonly aliasOf: string | null;
  readonly target: EndpointTarget;
  readonly status: EndpointStatus;
  readonly statusMsg: string | null;
  readonly generation: number;
  /** Set by a stop: wait for held requests before workers stop (finish_pending_work, or an Elasticsearch stop's in-flight requests). */
  readonly stopDrain: boolean;
  /**
   * Set by a stop that fails queued requests at once (Elasticsearch's default, with stopRejects):
   * gateways hand nothing more to workers, and with stopDrain the stop still waits for the requests in
   * flight. False: queued requests are handed on if the stop drains, else failed at once.
   */
  readonly stopRejectQueued: boolean;
  /**
   * The queued requests this stop fails, at once or when its drain runs out of time, are rejected
   * (REQUEST_REJECTED_BY_STOP, counted in stopRejected): Elasticsearch's stops, with or without
   * finish_pending_work. False: they fail with ENDPOINT_STOPPED.
   */
  readonly stopRejects: boolean;
  /** The drain deadline, written with the stop (its timeout or stopDrainTimeoutMs): past it, held requests fail. */
  readonly stopDeadline: number | null;
  readonly stopRequestedAt: number | null;
  /** Where a stop stands while status is stopping; null otherwise (lifecycle.ts). */
  readonly stopPhase: EndpointStopPhase | null;
  /** Written on entering stopping_workers (now + stepTimeoutMs): workers not at rest by then fail the stop. */
  readonly stopWorkersDeadline: number | null;
  /** The drain ran out of time and failed what was held. */
  readonly stopDrainTimedOut: boolean;
  /** Requests gateways answered (a worker's response came back) after they learnt of the stop. */
  readonly stopAnswered: number;
  /** Requests failed by the stop: refused from a gateway's queue, or failed at the drain deadline. */
  readonly stopFailed: number;
  /** Of stopFailed, those refused from a queue by the stop (never sent to a worker). */
  readonly stopRejected: number;
  readonly memory: ScaleMemory;
  readonly lastActivityAt: number;
  /** When it last became running (null: never). */
  readonly startedAt: number | null;
  /** When it last became stopped or failed, after it began (null: not since). */
  readonly completedAt: number | null;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly leaseToken: string | null;
  /** Claims pass a stopped endpoint by until then (null: none; 0: woken during a pass). */
  readonly restUntil: number | null;
}

export interface WorkerTemplate {
  readonly image: string;
  readonly env: Readonly<Record<string, string>>;
  readonly ports: readonly { readonly containerPort: number; readonly proto: 'tcp' | 'udp' }[];
  readonly onstart: string | null;
  /** The program a worker runs (a container's command; the image's own when absent). */
  readonly entrypoint?: string | null;
  readonly args: readonly string[] | null;
  readonly diskGb: number;
  /**
   * How the engine learns a worker is ready: `report` (default), the worker says so itself (Vast's
   * /worker_status/ with its benchmark); `http`, a plain HTTP server that knows nothing of Gantry is
   * ready when its first port answers, and its load is the gateway's count of requests in flight.
   */
  readonly readiness?: WorkerReadiness;
}

export type WorkerReadiness = 'report' | 'http';

export interface WorkergroupRecord {
  readonly id: number;
  readonly accountId: number;
  readonly endpointId: number;
  readonly template: WorkerTemplate;
  /** Where its workers may run. */
  readonly placement: WorkerPlacement;
  readonly launchArgs: string | null;
  readonly gpuRamGb: number | null;
  readonly testWorkers: number;
  /** What the template was made from (a configuration id); a deployment rolls over to its newest workergroup. */
  readonly revision: string | null;
  /** A rolling update of its workers (Vast's `update workers`) is under way: workers created before this time (ms) are replaced. */
  readonly workersOutdatedBefore: number | null;
  readonly createdAt: number;
}

export interface DeploymentRecord {
  readonly id: number;
  /** Its opaque public id: 16 hex digits (AI Core's deployment ids look like this). */
  readonly uid: string;
  readonly accountId: number;
  /** The account's partition it lives in (`default` unless named). */
  readonly resourceGroup: string;
  readonly name: string;
  readonly tag: string;
  readonly endpointId: number;
  /** Its first workergroup; after a configuration change the endpoint's newest workergroup serves. */
  readonly workergroupId: number;
  /** The configuration it is meant to serve; null when it was made from a template directly. */
  readonly source: DeploymentSource | null;
  /** The newest configuration that reached running (the one a failed change falls back to). */
  readonly runningSourceId: string | null;
  /** Why the last change of configuration did not take (its workers could not start); null otherwise. */
  readonly rolloutError: string | null;
  /** Time to live as given (`10m`, `24h`, `2d`) and when it runs out: then it is stopped and deleted. */
  readonly ttl: string | null;
  readonly expiresAt: number | null;
  readonly lastOperation: DeploymentOperation;
  readonly createdAt: number;
  readonly updatedAt: number;
}

export type DeploymentOperation = 'create' | 'update' | 'delete';

/** What a deployment was made from: a configuration of an executable (a serving template). */
export interface DeploymentSource {
  readonly configurationId: string;
  readonly configurationName: string;
  readonly executableId: string;
  readonly scenarioId: string;
  /** The model it serves (a configuration's modelName/modelVersion parameters), for resolvers that pick deployments by model. */
  readonly model: { readonly name: string; readonly version: string } | null;
  readonly resourcePlan: string | null;
  readonly minReplicas: number;
  readonly maxReplicas: number;
}

/** A worker's own report of its load and readiness. */
export interface WorkerReport {
  readonly instanceId: number;
  /** Load units per second it is receiving. */
  readonly curLoad: number;
  /** Its benchmark: load units per second it can carry. */
  readonly maxPerf: number | null;
  readonly curPerf: number;
  readonly numRequestsWorking: number;
  readonly loaded: boolean;
  readonly errorMsg: string | null;
  readonly reportedAt: number;
  /** It reported through its endpoint's report address, so it checks hand-outs with its endpoint's key (route-keys.ts). */
  readonly keyed: boolean;
}
