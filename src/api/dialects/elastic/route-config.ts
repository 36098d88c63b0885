import type { RouteConfig } from '../../edge/dialect.js';

/** Edge settings by route: worker routes check the worker's own token; model and pipeline calls share the serverless bucket. */
export function elasticRouteConfig(_method: string, url: string): RouteConfig {
  if (url.startsWith('/_ml/_gantry/worker/')) return { auth: false, audit: false, family: null, label: 'elastic-worker' };
  if (url === '/') return { audit: false };
  return { family: 'serverless' };
}
