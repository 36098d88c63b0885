import type { RouteConfig } from '../../edge/dialect.js';
import type { RateFamily } from '../../rate-limit/families.js';

/** The rate-limit family of each `/api/v0|v1/<head>/...` route, by its first segment. */
const FAMILY: Readonly<Record<string, RateFamily>> = {
  instances: 'instances',
  asks: 'instances',
  launch_instance: 'instances',
  bundles: 'search',
  search: 'search',
  gpu_names: 'search',
  machines: 'machines',
  host_tokens: 'machines',
  endptjobs: 'serverless',
  workergroups: 'serverless',
  autojobs: 'serverless',
  deployments: 'serverless',
  deployment: 'serverless',
  users: 'account',
  subaccounts: 'account',
  auth: 'account',
  secrets: 'account',
  ssh: 'account',
  team: 'account',
  audit_logs: 'account',
  charges: 'billing',
  invoices: 'billing',
  commands: 'billing',
};

/** Machine traffic of the serverless data path: workers' reports, signed hand-outs, the proxy. */
const DATA_PATH = /^\/(route|worker_status|delete_requests|pubkey|report\/|endpoints\/)/;
/** Vast's worker and log queries: user calls, but reads although they are POSTs. */
const SERVERLESS_READS = /^\/get_(endpoint|workergroup|autogroup)_/;
/** Calls that read although they are not GETs (Vast's CLI asks for logs and searches with PUT/POST). */
const READS = /^\/api\/v0\/(bundles|search\/asks|instances\/request_logs)/;
/** Open to anyone: the GPU name list the legacy CLI loads at start, and result downloads (the token is the secret). */
const PUBLIC = /^\/api\/v0\/(gpu_names|results)\//;

/**
 * Code deployments' upload and download URLs: the signed token in the form or the query is the
 * credential (decision 020). Uploads (one per PUT) draw from the serverless family, by address unless
 * the SDK's key came along; downloads are not limited (a host's workers fetch their code at once).
 */
const CODE_TOKENS = /^\/api\/v0\/(deployment_uploads|deployment_code)(\/|$)/;

/** Two-factor authentication, refused to every caller alike (Gantry uses API keys): no key needed to hear it. */
const TFA = /^\/api\/v0\/tfa(\/|$)/;

/** The edge settings of each Vast route, from its URL pattern. */
export function vastRouteConfig(_method: string, url: string): RouteConfig {
  if (TFA.test(url)) return { auth: false, audit: false, family: 'account' };
  if (CODE_TOKENS.test(url)) return { auth: false, audit: false, family: url.includes('deployment_uploads') ? 'serverless' : null, label: 'serverless' };
  if (DATA_PATH.test(url)) return { auth: false, audit: false, family: url.startsWith('/route') ? 'route' : null, label: 'serverless' };
  if (SERVERLESS_READS.test(url)) return { audit: false, family: 'route', label: 'serverless' };
  if (PUBLIC.test(url)) return { auth: false, audit: false, family: url.includes('/results/') ? null : 'search' };
  if (url.startsWith('/update_workers')) return { family: 'serverless', label: 'serverless' };
  const head = /^\/api\/v[01]\/([^/]+)/.exec(url)?.[1];
  return { family: head === undefined ? null : (FAMILY[head] ?? 'other'), ...(READS.test(url) ? { audit: false } : {}) };
}

/** The rate-limit family a request path draws from (for tests and docs: the edge reads route settings). */
export function vastFamilyOf(path: string): RateFamily | null {
  const p = (path.split('?')[0] ?? path).replace(/\/+$/, '');
  return vastRouteConfig('GET', p).family ?? null;
}
