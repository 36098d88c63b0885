import type { CodeDeploymentStore } from './code-deployment-store.js';
import type { EndpointStatus, EndpointStopPhase, EndpointTarget } from '../domain/serverless/lifecycle.js';
import type { EndpointParams } from '../domain/serverless/params.js';
import type { EndpointLimits } from '../domain/serverless/limits.js';
import type { ScaleMemory } from '../domain/serverless/autoscale.js';
import type { InstanceRecord } from '../domain/instance/instance.js';
import type { DeploymentRecord, EndpointRecord, WorkergroupRecord, WorkerReport, WorkerTemplate } from '../domain/serverless/records.js';

/** The serverless part of the store port: endpoints, workergroups, deployments and worker reports. */

export interface NewEndpoint {
  readonly accountId: number;
  readonly name: string;
  readonly apiKey: string;
  readonly params: EndpointParams;
  /** Absent: none (NO_LIMITS). */
  readonly limits?: EndpointLimits;
  /**
   * The endpoint it routes to, by name: checked as the alias is written, with that endpoint's row held (a rename
   * of it at once either comes first, and the alias is refused, or waits and is refused): an endpoint of the
   * account (ENDPOINT_NOT_FOUND), itself no alias, and no live alias routes to `name` (INVALID_ARGUMENT).
   */
  readonly aliasOf: string | null;
  readonly now: number;
  /** Most endpoints the account may hold (one being deleted counts until it is gone); one more is ENDPOINT_LIMIT. 0 or absent: no bound. */
  readonly maxPerAccount?: number;
}

export interface EndpointIntentWrite {
  /**
   * The status the change was decided on: passes write status without moving the generation (the first pass
   * makes an unknown endpoint pending), so the write also fails when a pass moved it since. Absent: not checked
   * (and a delete then zeroes the stop's counts, as any intent but a delete from `stopped` does).
   */
  readonly from?: EndpointStatus;
  readonly target: EndpointTarget;
  readonly status: EndpointStatus;
  readonly statusMsg: string | null;
  /**
   * A stop's options: wait for held requests first, the drain deadline, whether queued requests are
   * failed at once (not handed on), and whether the requests it fails are rejected (REQUEST_REJECTED_BY_STOP).
   */
  readonly stop: { readonly drain: boolean; readonly deadline: number; readonly rejectQueued?: boolean; readonly rejects?: boolean } | null;
  /** The phase the write begins (closing for a stop); absent: none. */
  readonly stopPhase?: EndpointStopPhase | null;
  readonly now: number;
}

/** A new name for an endpoint (renames go through `renameEndpoint` alone, with its guards). */
export interface EndpointRename {
  readonly id: number;
  readonly accountId: number;
  /** The name the caller read: compare-and-set. */
  readonly from: string;
  readonly to: string;
  /** Whether the endpoint is a route alias, as the caller read it: an alias takes no name another alias routes to. */
  readonly isAlias: boolean;
  readonly now: number;
}

export interface EndpointConfigWrite {
  readonly params?: EndpointParams;
  readonly suspended?: boolean;
  readonly now: number;
}

/**
 * What the serverless loop writes after a pass, only while it still holds the lease. Status and
 * memory are written only if no intent arrived during the pass (the generation it acted on is still
 * current): a stop written meanwhile must not be overwritten by a pass that began before it.
 */
export interface EndpointPassWrite {
  readonly generation: number;
  /** A status other than stopping also clears the stop phase. */
  readonly status?: EndpointStatus;
  readonly statusMsg?: string | null;
  /** Written with a status change: when it became running, or stopped/failed. */
  readonly startedAt?: number;
  readonly completedAt?: number;
  /** A stop's progress, under the same guard as status. */
  readonly stop?: EndpointStopWrite;
  readonly memory: ScaleMemory;
  readonly now: number;
  /**
   * The pass found nothing to do until then (a stopped endpoint, or a running one with no worker and
   * nothing to recruit): claims pass the endpoint by
   * until then, unless it is woken (wakeEndpoint, an intent) first. Not written when a wake came since
   * the claim (nor, so, by the first pass claimed after a wake). Undefined: passed at every tick.
   */
  readonly restUntil?: number;
}

export interface EndpointStopWrite {
  /** Null once the stop ended (stopped or failed). */
  readonly phase: EndpointStopPhase | null;
  readonly workersDeadline: number | null;
  readonly drainTimedOut: boolean;
  /** Requests this pass failed: added to the count, which gateways add to as well. */
  readonly failed: number;
  /** Of `failed`, those rejected from a queue (stopRejects): added to that count. */
  readonly rejected: number;
}

/**
 * An endpoint's scaling params with its workergroup's template (null: the endpoint's params only),
 * each written only if the row still holds `expected`: what the caller read and decided on. The
 * generation is the endpoint's intent: a stop, start or delete written since moves it, and the caller's
 * decision (the deployment was started) no longer holds.
 */
export interface EndpointReconfigure {
  readonly endpointId: number;
  readonly expected: { readonly params: EndpointParams; readonly generation: number };
  readonly params: EndpointParams;
  readonly workergroup: { readonly id: number; readonly expected: WorkerTemplate; readonly template: WorkerTemplate } | null;
  readonly now: number;
}

export type NewWorkergroup = Omit<WorkergroupRecord, 'id' | 'createdAt' | 'revision' | 'workersOutdatedBefore'> & {
  readonly revision?: string | null;
  readonly now: number;
  /**
   * Most live workergroups the account may hold (those of an endpoint being deleted count until it is gone);
   * one more is WORKERGROUP_LIMIT. 0 or absent: no bound.
   */
  readonly maxPerAccount?: number;
  /** Most live workergroups the endpoint may hold; one more is WORKERGROUP_LIMIT. 0 or absent: no bound. */
  readonly maxPerEndpoint?: number;
  /**
   * A workergroup of its own (the workergroup API's), not one a deployment makes: refused with DEPLOYMENT_MANAGED
   * when a live deployment owns the endpoint, checked with the endpoint held. Absent: not checked.
   */
  readonly refuseOnDeployment?: boolean;
};

/**
 * A new deployment: its public id is drawn by the store when not given; the rest of the source fields default to none.
 * `servesModel`: the account's trained model its workers serve. The row is written only while that model exists and
 * is fully defined (MODEL_NOT_FOUND, MODEL_DEFINITION_MISSING), checked in the same transaction under the model row's
 * lock: a model delete on any replica commits either before (the deployment is refused) or after it (and then sees it).
 * `workergroupId` must be the endpoint's only live workergroup, checked with the endpoint held (DEPLOYMENT_MANAGED):
 * a workergroup created on it or moved onto or off it at once is either refused or refuses the deployment.
 */
export type NewDeployment = Pick<DeploymentRecord, 'accountId' | 'name' | 'tag' | 'endpointId' | 'workergroupId'> &
  Partial<Pick<DeploymentRecord, 'uid' | 'resourceGroup' | 'source' | 'runningSourceId' | 'ttl' | 'expiresAt'>> & {
    readonly servesModel?: string;
    readonly now: number;
  };

export type DeploymentWrite = Partial<Pick<DeploymentRecord, 'source' | 'runningSourceId' | 'rolloutError' | 'lastOperation' | 'ttl' | 'expiresAt'>> & {
  readonly now: number;
};
export type WorkergroupWrite = Partial<
  Pick<WorkergroupRecord, 'template' | 'placement' | 'launchArgs' | 'gpuRamGb' | 'testWorkers' | 'endpointId' | 'workersOutdatedBefore'>
> & {
  /** With `endpointId`: most live workergroups the endpoint it moves to may then hold (WORKERGROUP_LIMIT past it). 0 or absent: no bound. */
  readonly maxPerEndpoint?: number;
};

/** Deployments: their own part of the serverless port. */
export interface DeploymentStore {
  createDeployment(n: NewDeployment): Promise<DeploymentRecord>;
  getDeployment(id: number): Promise<DeploymentRecord | undefined>;
  /** The live deployment of an endpoint; `withDeleted`: also one already deleted (what its id was, once it is gone). */
  findDeploymentByEndpoint(endpointId: number, o?: { withDeleted?: boolean }): Promise<DeploymentRecord | undefined>;
  /** A live deployment by its public id. */
  findDeploymentByUid(uid: string): Promise<DeploymentRecord | undefined>;
  /** Live deployments; of one account (and one resource group), or all. */
  listDeployments(accountId: number | null, o?: { resourceGroup?: string }): Promise<DeploymentRecord[]>;
  updateDeployment(id: number, w: DeploymentWrite): Promise<void>;
  deleteDeployment(id: number, now: number): Promise<void>;
}

/** Workergroups: their own part of the serverless port. */
export interface WorkergroupStore {
  /** DEPLOYMENT_MANAGED with `refuseOnDeployment` when a live deployment owns the endpoint. */
  createWorkergroup(n: NewWorkergroup): Promise<WorkergroupRecord>;
  getWorkergroup(id: number): Promise<WorkergroupRecord | undefined>;
  /** Live workergroups; of one account and/or one endpoint. */
  listWorkergroups(o: { accountId?: number; endpointId?: number }): Promise<WorkergroupRecord[]>;
  /**
   * With `endpointId` other than its own: a move, refused with DEPLOYMENT_MANAGED (nothing written) when a live
   * deployment owns the endpoint it leaves or the one it joins, checked with both endpoints held.
   */
  updateWorkergroup(id: number, w: WorkergroupWrite): Promise<void>;
  /**
   * Workergroups stored before placements were typed: their search text, for the dialect that wrote
   * it to compile (then written back with updateWorkergroup). Empty once every row is upgraded.
   */
  legacyWorkergroupSearches(): Promise<{ id: number; searchText: string }[]>;
  /**
   * With `refuseOnDeployment` (the workergroup API's delete): refused with DEPLOYMENT_MANAGED, nothing written, when
   * a live deployment owns its endpoint, checked with the endpoint held (a deployment left without its group could
   * only be deleted). The deployment's own steps delete without it.
   */
  deleteWorkergroup(id: number, now: number, o?: { readonly refuseOnDeployment?: boolean }): Promise<void>;
}

export interface ServerlessStore extends DeploymentStore, CodeDeploymentStore, WorkergroupStore {
  /** NAME_TAKEN when the account has a live endpoint of that name. */
  createEndpoint(n: NewEndpoint): Promise<EndpointRecord>;
  getEndpoint(id: number): Promise<EndpointRecord | undefined>;
  findEndpointByName(accountId: number, name: string): Promise<EndpointRecord | undefined>;
  findEndpointByKey(apiKey: string): Promise<EndpointRecord | undefined>;
  /** Live (not deleted) endpoints; of one account, or all. */
  listEndpoints(accountId: number | null): Promise<EndpointRecord[]>;
  updateEndpointConfig(id: number, w: EndpointConfigWrite): Promise<void>;
  /**
   * Rename, in one statement that checks again what the caller checked (a rename and another rename, or an
   * alias's create, at once; on PostgreSQL with the endpoint's row taken first, so an alias create that holds
   * it is waited for and seen): false, nothing written, when the endpoint is no longer named `from`, a live
   * alias routes to `from`, a live deployment owns the endpoint, or it is an alias and a live alias routes to
   * `to`. NAME_TAKEN when another live endpoint of the account is named `to`.
   */
  renameEndpoint(w: EndpointRename): Promise<boolean>;
  /**
   * Params and template in one transaction, compare-and-set on both as the caller read them: false
   * (nothing written) when another writer changed either first.
   */
  reconfigureEndpoint(w: EndpointReconfigure): Promise<boolean>;
  /**
   * Compare-and-set on generation; false when another writer moved it first. The stop's counts start from zero,
   * except for a delete from `stopped`, which keeps what that stop counted (calls waiting on it read them after).
   */
  writeEndpointIntent(id: number, expectedGeneration: number, w: EndpointIntentWrite): Promise<boolean>;
  /**
   * A repeated stop's timeout while a stop still waits for held requests: its drain's deadline becomes `deadline`
   * (past it, the next pass fails what is held and stops the workers). Only for the stop of `generation`, still
   * waiting (not yet at its workers), and only earlier than its deadline; false when nothing was written.
   */
  shortenStopDrain(id: number, generation: number, deadline: number, now: number): Promise<boolean>;
  /** Live endpoints whose lease is free and that do not rest (EndpointPassWrite.restUntil), oldest pass first, stamped with a fresh lease. */
  claimEndpoints(o: { owner: string; now: number; leaseMs: number; limit: number }): Promise<EndpointRecord[]>;
  /**
   * Apply a pass and release the lease. 'applied'; 'superseded' when an intent moved the generation
   * during the pass (only the lease is released); 'lost' when another replica holds the lease (nothing written).
   */
  applyEndpointPass(id: number, leaseToken: string, w: EndpointPassWrite): Promise<'applied' | 'superseded' | 'lost'>;
  /**
   * Add what a gateway answered and failed since it learnt of a stop; `rejected`, a part of `failed`,
   * those it refused from its queue. Counted while the target is
   * stopped (a late report after a start is dropped); the next stop starts from zero.
   */
  countStopRequests(id: number, answered: number, failed: number, rejected?: number): Promise<void>;
  /** Raise last_activity_at (never lowers it). */
  touchEndpoint(id: number, at: number): Promise<void>;
  /**
   * End a live endpoint's rest: the next claim takes it, and a pass under way now does not rest it
   * (written whether it rests or not: the pass under way may rest it on what it read before).
   */
  wakeEndpoint(id: number): Promise<void>;
  /** End the rest of those of these endpoints that rest; nothing is written for the others. Answers how many rested. */
  wakeResting(ids: readonly number[]): Promise<number>;

  /** Worker instances of an endpoint that are not destroyed. */
  listWorkers(endpointId: number): Promise<InstanceRecord[]>;
  recordWorkerReport(r: WorkerReport): Promise<void>;
  workerReports(instanceIds: readonly number[]): Promise<Map<number, WorkerReport>>;
  /** Forget the last reports of workers destroyed since (one row per worker ever made, else); answers how many. */
  pruneWorkerReports(): Promise<number>;

  /** Record how many requests a replica's gateway holds for an endpoint (queued or in flight). */
  putGatewayPending(replica: string, endpointId: number, pending: number, now: number): Promise<void>;
  /** Requests other replicas hold for an endpoint, counting only reports made since `freshSince`. */
  gatewayPendingElsewhere(endpointId: number, exceptReplica: string, freshSince: number): Promise<number>;
  /**
   * Whether every replica whose presence (its row for endpoint 0) was written since `liveSince` has
   * written its row of the endpoint at or after `since`.
   */
  gatewaysPublishedSince(endpointId: number, liveSince: number, since: number): Promise<boolean>;
  /** Delete the held-request and presence rows last written before `before` (replicas long gone); returns how many. */
  pruneGatewayPending(before: number): Promise<number>;

  /** The value under `key`, writing `value` first if there is none (first writer wins across replicas). */
  getOrPutSetting(key: string, value: string): Promise<string>;
  /** The value under `key`, or null when none was written. */
  getSetting(key: string): Promise<string | null>;
}
