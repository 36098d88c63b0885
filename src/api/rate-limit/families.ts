import { GantryError } from '../../domain/errors.js';

/** Endpoint families a rate applies to, by the first path segment. */
const FAMILY: Readonly<Record<string, string>> = {
  instances: 'instances',
  asks: 'instances',
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
export const RATE_FAMILIES = [...new Set([...Object.values(FAMILY), 'route', 'other'])].sort();

/**
 * The family of a request path, or null for paths that are never limited: the worker and agent
 * protocols, the proxied data path (its capacity is max_workers and the queue), result downloads.
 */
export function familyOf(path: string): string | null {
  if (/^\/(route|get_endpoint_|get_workergroup_)/.test(path)) return 'route';
  const m = /^\/api\/v[01]\/([^/?]+)/.exec(path);
  if (!m) return null;
  const head = m[1] as string;
  if (head === 'agent' || head === 'results') return null;
  return FAMILY[head] ?? 'other';
}

/** "search=5,instances=50" → per-family rates; INVALID_ARGUMENT names a bad entry. */
export function parseRates(text: string | null): Map<string, number> {
  const out = new Map<string, number>();
  if (text === null || text.trim() === '') return out;
  for (const part of text.split(',')) {
    const [name, value] = part.split('=').map((s) => s.trim());
    const n = Number(value);
    if (name === undefined || !RATE_FAMILIES.includes(name) || value === undefined || value === '' || !Number.isFinite(n) || n < 0) {
      throw new GantryError('INVALID_ARGUMENT', `rateLimits: "${part}" is not family=rate (families: ${RATE_FAMILIES.join(', ')}).`);
    }
    out.set(name, n);
  }
  return out;
}
