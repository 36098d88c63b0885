import type { WorkerPlacement } from '../offer/search.js';
import type { ScaleMemory } from './autoscale.js';
import type { EndpointStatus, EndpointStopPhase, EndpointTarget } from './lifecycle.js';
import type { EndpointParams } from './params.js';

/** A serverless endpoint: a lifecycle resource (target + status) with its scaling parameters. */
export interface EndpointRecord {
  readonly id: number;
  readonly accountId: number;
  readonly name: string;
  /** The endpoint's own key: /route/ and the proxy accept it for this endpoint only. */
  readonly apiKey: string;
  readonly params: EndpointParams;
  /** Vast's `suspended`: serves with what it has; the autoscaler recruits nobody. */
  readonly suspended: boolean;
  /** Name of another endpoint of the same account whose traffic this one forwards (a route alias). */
  readonly aliasOf: string | null;
  readonly target: EndpointTarget;
  readonly status: EndpointStatus;
  readonly statusMsg: string | null;
  readonly generation: number;
  /** Set by a stop: drain first (finish_pending_work). */
  readonly stopDrain: boolean;
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
  readonly memory: ScaleMemory;
  readonly lastActivityAt: number;
  readonly createdAt: number;
  readonly updatedAt: number;
  readonly leaseToken: string | null;
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
  readonly createdAt: number;
}

export interface DeploymentRecord {
  readonly id: number;
  readonly accountId: number;
  readonly name: string;
  readonly tag: string;
  readonly endpointId: number;
  readonly workergroupId: number;
  readonly createdAt: number;
  readonly updatedAt: number;
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
}
