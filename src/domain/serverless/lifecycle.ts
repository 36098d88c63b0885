import { GantryError } from '../errors.js';

/**
 * One lifecycle for endpoints and the deployments that own them (../../../ARCHITECTURE.md, "Stop and
 * drain"). `target` is the user's intent; `status` is what the serverless loop last established.
 *
 *   unknown ──▶ pending ──▶ running ──▶ stopping ──▶ stopped ──(start)──▶ pending
 *                 │                      │  ▲
 *                 └──────(stop)──────────┘  └── failed (workers did not stop within the bound; stop again or start)
 *   pending | running ──▶ failed (dead: its workers keep failing; start again, or delete)
 *   unknown | stopped | failed ──(delete)──▶ deleting ──▶ deleted
 *
 * `unknown`: accepted, and no pass of the serverless loop has looked at it yet; nothing runs, so it
 * can be deleted but not stopped (SAP AI Core's rule, and the core's: there is nothing to stop).
 *
 * While `stopping`, a stop moves through typed phases (Temporal's worker: STOPPING → DRAINING →
 * STOPPED | FAILED); `stop.ts` decides each step:
 *
 *   closing ──▶ draining ──▶ stopping_workers ──▶ stopped | failed
 *      └───────(no drain, or nothing held)──▶┘
 */
export const ENDPOINT_TARGETS = ['running', 'stopped', 'deleted'] as const;
export type EndpointTarget = (typeof ENDPOINT_TARGETS)[number];
export const ENDPOINT_STATUSES = ['unknown', 'pending', 'running', 'stopping', 'stopped', 'failed', 'deleting', 'deleted'] as const;
export type EndpointStatus = (typeof ENDPOINT_STATUSES)[number];

/** `reconfigure`: serve another configuration (a rolling change of the workers' template). */
export type EndpointAction = 'stop' | 'start' | 'delete' | 'reconfigure';

/**
 * - closing: routing is closed; gateways of other replicas learn of it and publish what they hold.
 * - draining (finish_pending_work): every held request is waited for, until the drain deadline.
 * - stopping_workers: workers were asked to stop, and get until the workers' deadline.
 */
export const ENDPOINT_STOP_PHASES = ['closing', 'draining', 'stopping_workers'] as const;
export type EndpointStopPhase = (typeof ENDPOINT_STOP_PHASES)[number];

export interface EndpointState {
  readonly id: number;
  readonly target: EndpointTarget;
  readonly status: EndpointStatus;
}

export interface EndpointChange {
  readonly target: EndpointTarget;
  readonly status: EndpointStatus;
}

function illegal(s: EndpointState, action: EndpointAction, why: string): GantryError {
  return new GantryError('ILLEGAL_TRANSITION', `Cannot ${action} endpoint ${s.id}: ${why}.`, { action, target: s.target, status: s.status, why });
}

/**
 * The one place that decides whether a request is legal. Returns the change to write, or null for an
 * idempotent repeat. `stopFirst` (Vast's delete) lets a delete begin from a live endpoint: its
 * workers are destroyed, which stops them. `stopUnscheduled` (Vast's stop) lets a stop cancel an
 * endpoint no pass has scheduled yet, instead of refusing it. `strict` (SAP AI Core's table) refuses
 * a request that would change nothing, and any stop of a failed endpoint (it can only be deleted, or
 * started again).
 */
export function decideEndpoint(s: EndpointState, action: EndpointAction, o: DecideOptions = {}): EndpointChange | null {
  const change = decide(s, action, o);
  if (change === null && o.strict === true)
    throw illegal(s, action, `it is already ${s.status === 'deleting' ? 'being deleted' : s.status}; nothing would change`);
  return change;
}

export interface DecideOptions {
  readonly stopFirst?: boolean;
  readonly stopUnscheduled?: boolean;
  readonly strict?: boolean;
}

function decide(s: EndpointState, action: EndpointAction, o: DecideOptions): EndpointChange | null {
  if (s.status === 'deleted' || s.status === 'deleting' || s.target === 'deleted') {
    if (action === 'delete') return null;
    throw illegal(s, action, 'it is being deleted');
  }
  switch (action) {
    case 'stop':
      if (s.target === 'stopped' && s.status !== 'failed') return null;
      if (s.status === 'unknown' && o.stopUnscheduled !== true) throw illegal(s, action, 'it has not been scheduled yet, so nothing runs; delete it instead');
      // A dead deployment (failed while meant to run) holds no workers: stopping it only records that.
      if (s.status === 'failed' && o.strict === true) throw illegal(s, action, 'it has failed and runs nothing; delete it or start it again');
      return { target: 'stopped', status: 'stopping' };
    case 'start':
      if (s.status === 'stopping') throw illegal(s, action, 'it is still stopping; start it again once it is stopped');
      if (s.target === 'running' && s.status !== 'failed') return null;
      return { target: 'running', status: 'pending' };
    case 'delete':
      if (!o.stopFirst && s.status !== 'stopped' && s.status !== 'failed' && s.status !== 'unknown') throw illegal(s, action, 'stop it first');
      return { target: 'deleted', status: 'deleting' };
    case 'reconfigure':
      // Status and target stay; the serverless loop rolls the workers over.
      if (s.target !== 'running' || (s.status !== 'pending' && s.status !== 'running')) {
        throw illegal(s, action, 'only a pending or running deployment can change its configuration');
      }
      return { target: s.target, status: s.status };
  }
}

/** Whether routing accepts new work for an endpoint in this state. */
export function acceptsTraffic(s: Pick<EndpointState, 'target' | 'status'>): boolean {
  return s.target === 'running' && (s.status === 'unknown' || s.status === 'pending' || s.status === 'running');
}

export function isEndpointStatus(s: string): s is EndpointStatus {
  return (ENDPOINT_STATUSES as readonly string[]).includes(s);
}

export function isEndpointStopPhase(s: string): s is EndpointStopPhase {
  return (ENDPOINT_STOP_PHASES as readonly string[]).includes(s);
}

/** The phase an intent write begins: a stop starts closing; no other status has a phase. */
export function initialStopPhase(c: EndpointChange): EndpointStopPhase | null {
  return c.status === 'stopping' ? 'closing' : null;
}

interface StopState {
  readonly status: EndpointStatus;
  readonly stopDrain: boolean;
  readonly stopRejectQueued?: boolean;
  readonly stopPhase: EndpointStopPhase | null;
}

/**
 * Whether a stop still waits for held requests: one with stopDrain whose workers have not been asked
 * to stop yet. Requests other replicas hold count then.
 */
export function waitsForHeld(s: StopState): boolean {
  return s.status === 'stopping' && s.stopDrain && s.stopPhase !== 'stopping_workers';
}

/**
 * Whether gateways still hand queued requests to workers: a stop with finish_pending_work whose
 * workers have not been asked to stop yet. Once they have, every gateway refuses what it still queues.
 * A stop that rejects queued work hands nothing more, though it waits for what is in flight.
 */
export function isDraining(s: StopState): boolean {
  return waitsForHeld(s) && s.stopRejectQueued !== true;
}
