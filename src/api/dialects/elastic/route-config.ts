import type { RouteConfig } from '../../edge/dialect.js';

/** Calls that change nothing although they are POSTs: inference, and a pipeline's simulation. */
const READS = /^\/_(ml\/trained_models\/[^/?]+\/(deployment\/)?_infer|ingest\/pipeline\/([^/?]+\/)?_simulate)(\?|$)/;

/**
 * Edge settings by route: worker routes check the worker's own token; model and pipeline calls share the serverless
 * bucket. The audit records calls that change state: an inference is no more one than a Vast proxied request (a
 * row for each would grow the log by the request rate, for good).
 */
export function elasticRouteConfig(_method: string, url: string): RouteConfig {
  if (url.startsWith('/_ml/_gantry/worker/')) return { auth: false, audit: false, family: null, label: 'elastic-worker' };
  if (url === '/') return { audit: false };
  return { family: 'serverless', ...(READS.test(url) ? { audit: false } : {}) };
}
