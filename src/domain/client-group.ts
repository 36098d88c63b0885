/**
 * The unit a per-client bound counts (connections, unauthenticated rate limits, agents' refused hellos): the
 * IPv4 address, or an IPv6 address's first `v6Bits` bits (setting ipv6ClientPrefixBits). Counted per IPv6
 * address (128), one host given a /64 holds 2^64 bounds; counted per /64, the hosts of one IPv6 subnet (a cloud
 * VPC's, an office's) share one.
 */
export function clientGroup(ip: string | undefined, v6Bits = 64): string {
  if (ip === undefined || ip === '') return 'unknown';
  const addr = ip.replace(/%.*$/, ''); // a zone (fe80::1%eth0) names the interface, not the client
  // Node's socket addresses: IPv4 dotted, or IPv6 (hex groups and colons, maybe a dotted quad at the end).
  if (!addr.includes(':') || !/^[0-9a-f:.]+$/i.test(addr)) return addr;
  const mapped = /^::ffff:(\d+\.\d+\.\d+\.\d+)$/i.exec(addr)?.[1];
  if (mapped !== undefined) return mapped;
  const bits = Math.min(128, Math.max(0, Math.floor(v6Bits)));
  const groups = hextets(addr);
  const out: string[] = [];
  for (let i = 0; i < 8 && i * 16 < bits; i++) {
    const keep = Math.min(16, bits - i * 16);
    out.push(((groups[i] ?? 0) & (0xffff << (16 - keep)) & 0xffff).toString(16));
  }
  return bits === 128 ? out.join(':') : `${out.join(':')}::/${bits}`;
}

/** The eight 16-bit groups of a valid IPv6 address (`::` expanded; a dotted quad at its end is two groups). */
function hextets(addr: string): number[] {
  const parse = (part: string): number[] =>
    part === ''
      ? []
      : part.split(':').flatMap((p) => {
          if (!p.includes('.')) return [parseInt(p, 16)];
          const [a = 0, b = 0, c = 0, d = 0] = p.split('.').map(Number);
          return [(a << 8) | b, (c << 8) | d];
        });
  const [head = '', tail] = addr.split('::');
  const h = parse(head);
  if (tail === undefined) return h;
  const t = parse(tail);
  return [...h, ...Array<number>(Math.max(0, 8 - h.length - t.length)).fill(0), ...t];
}
