import type { EndpointRecord } from '../../domain/serverless/records.js';
import type { EndpointPassWrite } from '../../store/serverless-store.js';
import { STOP_SETTLE_MS } from '../../domain/serverless/stop.js';

/** What one pass of the serverless loop decided for an endpoint (written with applyEndpointPass). */
export type Pass = Omit<EndpointPassWrite, 'now' | 'generation'>;

/** When a pass moves the status: running stamps the start, stopped or failed the end. */
export function statusTimes(ep: EndpointRecord, pass: Pass, now: number): { startedAt?: number; completedAt?: number } {
  if (pass.status === undefined || pass.status === ep.status) return {};
  if (pass.status === 'running') return { startedAt: now };
  if (pass.status === 'stopped' || pass.status === 'failed') return { completedAt: now };
  return {};
}

/**
 * When the next pass is due for a stop: its deadlines act when they fall, not at a later tick: at the
 * drain deadline (or the end of the settle time); while workers stop, at their deadline
 * (ServerlessWakeups: sooner, at their stops). Null: no deadline of the stop's.
 */
export function stopWakeAt(ep: EndpointRecord, next: string, workersDeadline: number | null, now: number, observeIntervalMs: number): number | null {
  if (next === 'closing' || next === 'draining') {
    const settled = (ep.stopRequestedAt ?? now) + STOP_SETTLE_MS;
    const deadline = ep.stopDeadline ?? now;
    return next === 'closing' ? Math.min(settled, deadline) : deadline;
  }
  if (next === 'stopping_workers') return Math.min(now + observeIntervalMs, workersDeadline ?? Infinity);
  return null;
}
