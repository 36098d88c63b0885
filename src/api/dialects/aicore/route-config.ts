import type { RouteConfig } from '../../edge/dialect.js';

/**
 * Edge settings by route: the token endpoint checks its own credentials (the client id and secret). A deployment's
 * inference URLs are its data path, not audited (a row per request would grow the log by the request rate).
 */
export function aicoreRouteConfig(_method: string, url: string): RouteConfig {
  if (url === '/oauth/token') return { auth: false, family: 'account' };
  if (url.startsWith('/v2/inference/')) return { audit: false };
  return {};
}
