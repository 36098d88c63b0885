import type { GantryError } from '../../domain/errors.js';

/**
 * What the control loops need from this replica's request gateway (src/gateway implements it).
 * Queues and requests in flight live in the memory of the replica that accepted them; workers'
 * own reports (num_requests_working) cover requests that other replicas sent.
 */
export interface PendingWork {
  readonly queued: number;
  readonly inFlight: number;
  readonly oldestQueuedMs: number;
}

/** What failPending failed: every request, and of them those rejected from a queue. */
export interface FailedHeld {
  readonly failed: number;
  readonly rejected: number;
}

/**
 * What one gateway counted of an endpoint's requests (Elasticsearch's deployment stats). Kept in the
 * memory of the replica whose gateway took the requests, from when it started: with several
 * replicas each counts what it took (see ARCHITECTURE.md, "Inference counters").
 */
export interface InferenceCounters {
  /** Answered by a worker with a status below 400. */
  readonly inferenceCount: number;
  /** Answered with 400 or more, or failed at the worker. */
  readonly errorCount: number;
  /** Refused: the queue was full, or a stop dropped it from the queue. */
  readonly rejectedExecutionCount: number;
  /** Its deadline, the queue timeout, the worker timeout or a stop's drain deadline passed. */
  readonly timeoutCount: number;
  /** Queued (the endpoint's own counters only) and in flight now. */
  readonly pendingRequests: number;
  /** Over the answered ones (inferenceCount), from the request reaching the worker to its whole answer. */
  readonly averageInferenceTimeMs: number;
  readonly averageInferenceTimeMsLastMinute: number;
  /** Answered in the last 60 s, and the most ever answered in 60 s. */
  readonly throughputLastMinute: number;
  readonly peakThroughputPerMinute: number;
  /** Epoch ms of the last request; null: none yet. */
  readonly lastAccess: number | null;
  /** Epoch ms the counting began (the first request this gateway saw for it). */
  readonly startTime: number | null;
}

export interface InferenceStats {
  /** Every request of the endpoint, including those refused or timed out before reaching a worker. */
  readonly deployment: InferenceCounters;
  /** Per worker (instance id): the requests sent to it. */
  readonly workers: ReadonlyMap<number, InferenceCounters>;
}

export const ZERO_COUNTERS: InferenceCounters = {
  inferenceCount: 0,
  errorCount: 0,
  rejectedExecutionCount: 0,
  timeoutCount: 0,
  pendingRequests: 0,
  averageInferenceTimeMs: 0,
  averageInferenceTimeMsLastMinute: 0,
  throughputLastMinute: 0,
  peakThroughputPerMinute: 0,
  lastAccess: null,
  startTime: null,
};

export interface TrafficGate {
  /**
   * Stop taking new requests for the endpoint now. Without drain, queued requests are failed at once:
   * with REQUEST_REJECTED_BY_STOP when `rejectQueued`, else ENDPOINT_STOPPED (with drain, `rejectQueued`
   * says how those still queued fail when workers are asked to stop). `waits`: the stop waits for the
   * requests in flight before it stops the workers (a worker failure meanwhile is the worker's, not the stop's).
   */
  close(endpointId: number, o: { readonly drain: boolean; readonly rejectQueued?: boolean; readonly waits?: boolean }): void;
  /** Take requests again (after a start); the next look at the store confirms it. */
  open(endpointId: number): void;
  pending(endpointId: number): PendingWork;
  /**
   * Endpoints with no active worker (none ready or on its way) this replica holds requests for (queued, or
   * /route/ calls answered without a worker): they wait for one, and may rest (scaled to zero or to cold workers) where no pass saw them.
   */
  waiting(): readonly number[];
  /** Requests other replicas' gateways hold for the endpoint (queued or in flight), from the store. */
  pendingElsewhere(endpointId: number): Promise<number>;
  /**
   * Whether every live replica's gateway (this one's too) has published what it holds of the
   * endpoint at or after `since` (the stop's time), having read the stop: a drain's `closing` may end.
   */
  stopSettled(endpointId: number, since: number): Promise<boolean>;
  /**
   * Fail what is still queued or in flight (a drain ran out of time, a stop gave up): queued requests
   * with REQUEST_REJECTED_BY_STOP when `rejectQueued`, else ENDPOINT_STOPPED; in flight, ENDPOINT_STOPPED.
   */
  failPending(endpointId: number, why: string, rejectQueued?: boolean): FailedHeld;
  /** Load (cost units per second) this replica received, one sample per second. */
  loadSamples(endpointId: number): readonly { readonly at: number; readonly load: number }[];
  /** Requests this replica has in flight at each worker of the endpoint, and their summed cost. */
  workerLoad(endpointId: number): ReadonlyMap<number, { readonly inFlight: number; readonly cost: number }>;
  /**
   * Whether a /route/ hand-out this replica made to the worker after `since` (epoch ms) has not been listed
   * finished by the worker (/delete_requests/): the caller may still be on its way to it, or be served.
   */
  unfinishedHandOuts(endpointId: number, workerId: number, since: number): boolean;
  /** Fail the requests this replica has in flight at the worker with `err` (its drain ran out of time and it goes); answers how many. */
  failAtWorker(endpointId: number, workerId: number, err: GantryError): number;
  /** The worker says it finished these requests (their /route/ request_idx). */
  finished(endpointId: number, workerId: number, requestIdxs: readonly string[]): void;
  /**
   * Workers a request timed out at (WORKER_TIMEOUT), with when: routed around until they send a report made
   * after that time (a hung worker reports nothing; a live one reports every few seconds).
   */
  stalledWorkers(endpointId: number): ReadonlyMap<number, number>;
  /** Forget cached worker lists (a worker changed state). */
  invalidate(endpointId: number): void;
  /**
   * Route no new request to the worker until `until` (epoch ms; 0 lifts it; left out: until the gateway's
   * worker list can show what became of it): a rolling update drains it. Requests for it wait in the queue.
   */
  fence(endpointId: number, workerId: number, until?: number): void;
  /** What this replica's gateway counted of the endpoint's requests. */
  stats(endpointId: number): InferenceStats;
  /** Write what this replica counted for the endpoint's stop now, not at the next publish (a synchronous stop reads them). */
  flushStopCounts(endpointId: number): Promise<void>;
}

/** A gate for a replica that serves no traffic (tests of loops alone). */
export const NO_TRAFFIC: TrafficGate = {
  close: () => undefined,
  open: () => undefined,
  pending: () => ({ queued: 0, inFlight: 0, oldestQueuedMs: 0 }),
  waiting: () => [],
  pendingElsewhere: () => Promise.resolve(0),
  stopSettled: () => Promise.resolve(false),
  failPending: () => ({ failed: 0, rejected: 0 }),
  loadSamples: () => [],
  workerLoad: () => new Map(),
  unfinishedHandOuts: () => false,
  finished: () => undefined,
  failAtWorker: () => 0,
  stalledWorkers: () => new Map(),
  invalidate: () => undefined,
  fence: () => undefined,
  stats: () => ({ deployment: ZERO_COUNTERS, workers: new Map() }),
  flushStopCounts: () => Promise.resolve(),
};
