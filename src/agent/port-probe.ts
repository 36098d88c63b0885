import { readFile } from 'node:fs/promises';
import { createServer } from 'node:net';

/** Binds tried at once by the fallback: enough to sweep a 1,000-port range quickly, far from fd limits. */
const PARALLEL = 64;
const SOCKET_TABLES = ['/proc/net/tcp', '/proc/net/tcp6', '/proc/net/udp', '/proc/net/udp6'];
/** TIME_WAIT: a listener with SO_REUSEADDR (every server Node or a runtime opens) may still bind the port. */
const TCP_TIME_WAIT = '06';

/**
 * Ports of the host's range that something holds: the control plane allocates ports from its own records,
 * so a port another program uses would make the workload fail to bind (process runtime) or to start
 * (docker). Only the host can tell. On Linux the kernel's socket tables say it without touching the ports:
 * trying to bind them instead would, for a moment, hold a port that a workload starting right then wants.
 * Every socket counts (a client connection's local port blocks a bind as much as a listener); ports the
 * host's own workloads hold show up too, which is harmless (they are allocated anyway).
 */
export async function probeBusyPorts(first: number, last: number): Promise<number[]> {
  const tables = await Promise.all(SOCKET_TABLES.map((f) => readFile(f, 'utf8').catch(() => null)));
  if (tables.every((t) => t === null)) return probeByBinding(first, last);
  const busy = new Set<number>();
  for (const t of tables) for (const port of localPorts(t ?? '')) if (port >= first && port <= last) busy.add(port);
  return [...busy].sort((a, b) => a - b);
}

/** Local ports of one /proc/net table (`sl local_address rem_address st ...`, addresses as HEX_IP:HEX_PORT). */
export function localPorts(table: string): number[] {
  const out: number[] = [];
  for (const line of table.split('\n').slice(1)) {
    const f = line.trim().split(/\s+/);
    const local = f[1];
    if (local === undefined || f[3] === TCP_TIME_WAIT) continue;
    const port = parseInt(local.slice(local.lastIndexOf(':') + 1), 16);
    if (Number.isInteger(port) && port > 0) out.push(port);
  }
  return out;
}

/** Where no socket table can be read: whether a workload could listen on each port now. */
async function probeByBinding(first: number, last: number): Promise<number[]> {
  const busy: number[] = [];
  for (let p = first; p <= last; p += PARALLEL) {
    const batch = Array.from({ length: Math.min(PARALLEL, last - p + 1) }, (_, i) => p + i);
    const free = await Promise.all(batch.map(canBind));
    batch.forEach((port, i) => {
      if (free[i] !== true) busy.push(port);
    });
  }
  return busy;
}

function canBind(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createServer();
    s.once('error', () => resolve(false));
    s.listen({ port }, () => s.close(() => resolve(true)));
  });
}

/**
 * The part of the host's instance ports that the kernel may also hand to outgoing connections (its
 * `ip_local_port_range`, less `ip_local_reserved_ports`), or null: any connection the host makes (to a
 * registry, a database, a peer) can then take such a port just before an instance binds it, and the start
 * fails. Read from the kernel's files when not given (null where they cannot be read: not Linux).
 */
export async function outgoingOverlap(
  first: number,
  last: number,
  files: { range?: string | null; reserved?: string | null } = {},
): Promise<{ first: number; last: number } | null> {
  const range = files.range !== undefined ? files.range : await readFile('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').catch(() => null);
  const reserved = files.reserved !== undefined ? files.reserved : await readFile('/proc/sys/net/ipv4/ip_local_reserved_ports', 'utf8').catch(() => null);
  const m = /^\s*(\d+)\s+(\d+)\s*$/.exec(range ?? '');
  if (m === null) return null;
  const lo = Math.max(first, Number(m[1]));
  const hi = Math.min(last, Number(m[2]));
  if (lo > hi) return null;
  // Reserved ports ("a,b-c,…") are never given to outgoing connections: an overlap wholly reserved is none.
  const spans = (reserved ?? '')
    .trim()
    .split(',')
    .filter((s) => s !== '')
    .map((s) => s.split('-').map(Number))
    .map(([a, b]) => [a ?? NaN, b ?? a ?? NaN] as const);
  for (let p = lo; p <= hi; p++) if (!spans.some(([a, b]) => p >= a && p <= b)) return { first: lo, last: hi };
  return null;
}
