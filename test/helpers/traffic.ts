import { NO_LIMITS } from '../../src/domain/serverless/limits.js';
import type { RoutingView } from '../../src/control/serverless/routing.js';
import { Traffic } from '../../src/gateway/traffic.js';

/**
 * A gateway's traffic whose every endpoint reads the same view from the directory: by default accepting,
 * with one worker (id 10) of perf 1, as `view` changes it; `now` is its clock. Nothing is shared with
 * other replicas. A request that queues fails with QUEUE_TIMEOUT after 20 s.
 */
export function trafficOver(view: Partial<Omit<RoutingView, 'endpointId'>>, now: () => number = () => Date.now()): Traffic {
  return new Traffic({
    directory: (endpointId) => Promise.resolve({ ...acceptingView(endpointId), ...view }),
    touch: () => Promise.resolve(),
    now,
    directoryMs: 60_000,
    queueTimeoutMs: 20_000,
    shared: { replica: 'r', publish: () => Promise.resolve(), elsewhere: () => Promise.resolve(0), counted: () => Promise.resolve() },
  });
}

/** An endpoint's view that takes requests, with one idle worker (id 10) of perf 1. */
export function acceptingView(endpointId: number): RoutingView {
  return {
    endpointId,
    accepting: true,
    draining: false,
    maxQueueTimeS: 30,
    workers: [{ id: 10, url: 'http://w', perf: 1, working: 0, reportedAt: 0, signedBy: null }],
    phases: {},
    deleted: false,
    limits: NO_LIMITS,
    rejectQueued: false,
  };
}
