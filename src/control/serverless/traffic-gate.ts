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

export interface TrafficGate {
  /**
   * Stop taking new requests for the endpoint now. Without drain, queued requests are failed at once:
   * with REQUEST_REJECTED_BY_STOP when `rejectQueued`, else ENDPOINT_STOPPED.
   */
  close(endpointId: number, o: { readonly drain: boolean; readonly rejectQueued?: boolean }): void;
  /** Take requests again (after a start); the next look at the store confirms it. */
  open(endpointId: number): void;
  pending(endpointId: number): PendingWork;
  /** Requests other replicas' gateways hold for the endpoint (queued or in flight), from the store. */
  pendingElsewhere(endpointId: number): Promise<number>;
  /** Fail what is still queued or in flight (a drain ran out of time); returns how many. */
  failPending(endpointId: number, why: string): number;
  /** Load (cost units per second) this replica received, one sample per second. */
  loadSamples(endpointId: number): readonly { readonly at: number; readonly load: number }[];
  /** Requests this replica has in flight at each worker of the endpoint, and their summed cost. */
  workerLoad(endpointId: number): ReadonlyMap<number, { readonly inFlight: number; readonly cost: number }>;
  /** Forget cached worker lists (a worker changed state). */
  invalidate(endpointId: number): void;
}

/** A gate for a replica that serves no traffic (tests of loops alone). */
export const NO_TRAFFIC: TrafficGate = {
  close: () => undefined,
  open: () => undefined,
  pending: () => ({ queued: 0, inFlight: 0, oldestQueuedMs: 0 }),
  pendingElsewhere: () => Promise.resolve(0),
  failPending: () => 0,
  loadSamples: () => [],
  workerLoad: () => new Map(),
  invalidate: () => undefined,
};
