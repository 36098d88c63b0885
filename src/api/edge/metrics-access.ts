import type { FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../control/control-plane.js';
import { GantryError } from '../../domain/errors.js';
import { apiKeyOf } from './api-key.js';

/** Who may read GET /metrics (setting metricsAccess). */
export const METRICS_ACCESS = ['loopback', 'key', 'open'] as const;
export type MetricsAccess = (typeof METRICS_ACCESS)[number];

/** 127.0.0.0/8 and ::1, also as IPv4-mapped IPv6 (what a dual-stack socket reports). */
export function isLoopback(address: string | undefined): boolean {
  if (address === undefined) return false;
  const a = address.startsWith('::ffff:') ? address.slice(7) : address;
  return a === '::1' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(a);
}

/**
 * A Host that names this machine by a loopback name or address (`localhost`, `*.localhost`, 127.0.0.0/8, `[::1]`,
 * any port), or none (HTTP/1.0). A browser that was sent to loopback by a rebound DNS name still says that name.
 */
export function isLoopbackHost(host: string | undefined): boolean {
  if (host === undefined) return true;
  const h = host.trim().toLowerCase();
  // `[v6]` or `[v6]:port`, nothing else after the bracket.
  if (h.startsWith('[') && !/^\[[^\]]*\](:\d*)?$/.test(h)) return false;
  const name = h.startsWith('[') ? h.slice(1, h.indexOf(']')) : h.replace(/:\d*$/, '');
  const bare = name.endsWith('.') ? name.slice(0, -1) : name;
  return bare === 'localhost' || bare.endsWith('.localhost') || isLoopback(bare);
}

/**
 * Whether a proxy passed the request on: it says so in a forwarding header (nginx's and Caddy's defaults add
 * X-Forwarded-For or Via), and may have rewritten Host to the loopback address it proxies to.
 */
function forwarded(req: FastifyRequest): boolean {
  const h = req.headers;
  return h.forwarded !== undefined || h.via !== undefined || Object.keys(h).some((k) => k.startsWith('x-forwarded-') || k === 'x-real-ip');
}

/**
 * The metrics name accounts' endpoints and the machine's load, so by default only a caller on the
 * machine itself (a local Prometheus) or one with an admin key reads them; 'key' asks everyone for an
 * admin key, 'open' no one. UNAUTHENTICATED without a valid key, ADMIN_ONLY with another account's.
 * "On the machine itself" is a loopback socket asking for a loopback Host, with no forwarding header: a web page
 * whose DNS name was rebound to 127.0.0.1 (its script reads what it fetches from its own origin), and a reverse
 * proxy on this machine that says it forwarded the request, are asked for a key like any other caller. A proxy
 * that forwards silently with a loopback Host cannot be told from a local caller: such an install sets 'key'.
 */
export async function checkMetricsAccess(access: MetricsAccess, control: ControlPlane, req: FastifyRequest): Promise<void> {
  if (access === 'open') return;
  // The socket's own address: a forwarded-for header is the caller's word, not a fact.
  if (access === 'loopback' && isLoopback(req.socket.remoteAddress) && isLoopbackHost(req.headers.host) && !forwarded(req)) return;
  const p = await control.authenticate(apiKeyOf(req));
  if (!p.isAdmin || p.scope !== 'full')
    throw new GantryError(
      'ADMIN_ONLY',
      'Only an admin API key may read /metrics from another machine, or by a name other than localhost (setting metricsAccess).',
    );
}
