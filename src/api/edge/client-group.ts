import { isIPv6 } from 'node:net';

/**
 * The unit a per-client bound counts (connections, unauthenticated rate limits): the IPv4 address, or an IPv6
 * address's /64, the block one subscriber or host is given. Counted per IPv6 address, one host held 2^64 bounds.
 */
export function clientGroup(ip: string | undefined): string {
  if (ip === undefined || ip === '') return 'unknown';
  const addr = ip.replace(/%.*$/, ''); // a zone (fe80::1%eth0) names the interface, not the client
  if (!isIPv6(addr)) return addr;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr)?.[1];
  if (mapped !== undefined) return mapped;
  const [head = '', tail] = addr.split('::');
  const hextets = (part: string | undefined): string[] => (part === undefined || part === '' ? [] : part.split(':'));
  const h = hextets(head);
  const t = hextets(tail);
  // A dotted quad at the end (::1.2.3.4) stands for two groups.
  const width = (parts: string[]): number => parts.reduce((n, p) => n + (p.includes('.') ? 2 : 1), 0);
  const all = tail === undefined ? h : [...h, ...Array<string>(Math.max(0, 8 - width(h) - width(t))).fill('0'), ...t];
  return `${all
    .slice(0, 4)
    .map((x) => (x.includes('.') ? x : parseInt(x, 16).toString(16)))
    .join(':')}::/64`;
}
