import type { RouteConfig } from '../../edge/dialect.js';

/** Edge settings by route: the token endpoint checks its own credentials (the client id and secret). */
export function aicoreRouteConfig(_method: string, url: string): RouteConfig {
  if (url === '/oauth/token') return { auth: false, family: 'account' };
  return {};
}
