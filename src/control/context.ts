import type { Logger } from 'pino';
import type { Config } from '../config/schema.js';
import type { Metrics } from '../log/metrics.js';
import type { Store } from '../store/store.js';
import type { BlobStore } from '../store/blob-store.js';
import type { Clock } from './clock.js';
import type { HostRegistry } from './hosts/hosts.js';
import type { MachineCatalog } from './fleet/machine-catalog.js';
import type { InstanceViewCache } from './instances/instance-view-cache.js';
import type { OffersIndex } from './fleet/offers-index.js';
import type { EndpointSignal } from './serverless/endpoint-signal.js';
import type { TrafficGate } from './serverless/traffic-gate.js';
import type { Vault } from './accounts/vault.js';
import type { PrincipalCache } from './accounts/principal-cache.js';

export type ControlSettings = Pick<
  Config,
  | 'stopGraceMs'
  | 'killWaitMs'
  | 'stepTimeoutMs'
  | 'observeIntervalMs'
  | 'observationMaxAgeMs'
  | 'sweepListWaitMs'
  | 'reconcileIdleMs'
  | 'templateParseTimeoutMs'
  | 'reconcileRetryMaxMs'
  | 'failureLogRepeatMs'
  | 'reconcileBatch'
  | 'reconcileConcurrency'
  | 'leaseMs'
  | 'sweepIntervalMs'
  | 'heartbeatIntervalMs'
  | 'resultTtlMs'
  | 'maxResultsPerAccount'
  | 'gitTimeoutMs'
  | 'executeTimeoutMs'
  | 'copyTimeoutMs'
  | 'maxApiKeysPerAccount'
  | 'maxSubaccountsPerAccount'
  | 'maxSshKeysPerAccount'
  | 'maxEndpointsPerAccount'
  | 'maxWorkergroupsPerEndpoint'
  | 'maxWorkergroupsPerAccount'
  | 'maxTemplatesPerAccount'
  | 'ipv6ClientPrefixBits'
  | 'maxTrainedModelsPerAccount'
  | 'maxIngestPipelinesPerAccount'
  | 'maxResourceGroupsPerAccount'
  | 'maxConfigurationsPerAccount'
  | 'maxArtifactsPerAccount'
  | 'maxExecutablesPerAccount'
  | 'maxModelDefinitionBytesPerAccount'
  | 'incompleteDefinitionTtlMs'
  | 'modelUploadConcurrency'
  | 'modelUploadWaitMs'
  | 'maxHostTokensPerAccount'
  | 'machineCacheMs'
  | 'offersIndexRebuildMs'
  | 'publicIp'
  | 'machineOfflineMs'
  | 'agentPollWaitMs'
  | 'agentMessageRate'
  | 'agentCallTimeoutMs'
  | 'priceGpuPerHour'
  | 'priceDiskPerGbMonth'
  | 'autoscaleIntervalMs'
  | 'stoppedEndpointRecheckMs'
  | 'idleEndpointRecheckMs'
  | 'autoscaleWindowMs'
  | 'scaleDownDelayMs'
  | 'recruitBackoffMs'
  | 'workerReportStaleMs'
  | 'workerProbeTimeoutMs'
  | 'workerReadyTimeoutMs'
  | 'workerOfflineGraceMs'
  | 'workerFailuresBeforeDead'
  | 'stopDrainTimeoutMs'
  | 'deploymentTtlMinimumMs'
  | 'codeVersionsKept'
  | 'codeUploadMaxBytes'
  | 'codeUploadTokenTtlMs'
  | 'codeDownloadUrlTtlMs'
  | 'codeHeartbeatTtlMinimumS'
  | 'codeWorkerPython'
  | 'codeWorkerPythonPath'
  | 'endpointWaitPollMs'
  | 'billingIntervalMs'
  | 'billingRestFactor'
  | 'samplerIntervalMs'
  | 'samplesRetentionMs'
  | 'accessTokenTtlMs'
  | 'maxRequestCost'
  | 'maxJsonDepth'
  | 'principalCacheEntries'
  | 'principalCacheMaxAgeMs'
  | 'consoleEventsHeartbeatMs'
  | 'consoleEventsCoalesceMs'
  | 'consoleEventsStreamsPerKey'
>;

/** Everything a use case needs, passed down explicitly (no module singletons). */
export interface ControlContext {
  readonly store: Store;
  readonly clock: Clock;
  readonly hosts: HostRegistry;
  /** Cached machine list (instance and volume views, routing). */
  readonly machines: MachineCatalog;
  /** Each account's instance listing, kept until something in it changes. */
  readonly instanceViews: InstanceViewCache;
  /** Offers kept up to date from machine and rental changes: what searches read. */
  readonly offers: OffersIndex;
  readonly log: Logger;
  readonly metrics: Metrics;
  /** Server secret that derives per-instance keys. */
  readonly secret: string;
  readonly settings: ControlSettings;
  /** Base URL of the API as workloads should call it (GANTRY_URL inside instances). */
  readonly apiUrl: () => string;
  /** Wake the reconciler now: after an intent was written, or for one instance whose workload just ended. */
  readonly wake: (instanceId?: number) => void;
  /** Seals and opens account secrets (keys kept outside the database). */
  readonly vault: Vault;
  /** This replica's request gateway: queues, requests in flight, measured load. */
  readonly traffic: TrafficGate;
  /** Wakes waiters on an endpoint when this replica changed it (a serverless pass, an intent write). */
  readonly endpointSignal: EndpointSignal;
  /** Credentials this replica authenticated, dropped when the store publishes a credential change. */
  readonly principals: PrincipalCache;
  /** Code deployments' uploaded code (decision 020). */
  readonly blobs: BlobStore;
  /**
   * Since when this replica serves (clock ms; Infinity while it starts): a worker could not report to it
   * before, so its silence counts from then (workers.ts).
   */
  readonly servingSince: () => number;
  /**
   * A loop's store work failed with DATABASE_UNAVAILABLE: what workers reported meanwhile could not be stored,
   * so `servingSince` moves to now (their silence counts again from the database's return).
   */
  readonly databaseUnavailable: () => void;
}
