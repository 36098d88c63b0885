import type { EndpointRecord } from '../../domain/serverless/records.js';
import type { EndpointPassWrite } from '../../store/serverless-store.js';

/** What one pass of the serverless loop decided for an endpoint (written with applyEndpointPass). */
export type Pass = Omit<EndpointPassWrite, 'now' | 'generation'>;

/** When a pass moves the status: running stamps the start, stopped or failed the end. */
export function statusTimes(ep: EndpointRecord, pass: Pass, now: number): { startedAt?: number; completedAt?: number } {
  if (pass.status === undefined || pass.status === ep.status) return {};
  if (pass.status === 'running') return { startedAt: now };
  if (pass.status === 'stopped' || pass.status === 'failed') return { completedAt: now };
  return {};
}
