import { readFileSync } from 'node:fs';
import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { clientGroup } from '../../domain/client-group.js';

export interface ConnectionLimits {
  /** Most time from a connection's (or a kept-alive request's) first byte to its last header; 0: unbounded. */
  readonly headersTimeoutMs: number;
  /** Most time to receive a whole request, headers and body; 0: unbounded. */
  readonly requestTimeoutMs: number;
  /** Most connections open at once from one client address; 0: unbounded. */
  readonly maxConnectionsPerAddress: number;
  /** Most connections open at once in all; 0: unbounded. */
  readonly maxConnections: number;
  /** An IPv6 client counts by this many leading bits of its address (clientGroup). */
  readonly ipv6ClientPrefixBits: number;
}

/**
 * Bound what a client can hold open before it is even authenticated. Node's server checks
 * `headersTimeout` and `requestTimeout` only while a request is being received (its parser is
 * active until the request's last body byte), so a handler that holds its answer open afterwards
 * (a serverless request queued for a worker, an agent's long poll, a `wait_for`) is not cut short.
 * A request that takes too long to arrive is answered 408 and its connection closed. Call before
 * `listen`: the check interval is armed when the server starts listening.
 */
export function limitConnections(server: Server, o: ConnectionLimits): void {
  server.headersTimeout = o.headersTimeoutMs;
  server.requestTimeout = o.requestTimeoutMs;
  // Node checks the deadlines every 30 s by default: a 1 s bound would then hold for up to 31 s.
  const bounds = [o.headersTimeoutMs, o.requestTimeoutMs].filter((t) => t > 0);
  // (Node reads the property when listening starts; @types/node only declares it as a createServer option.)
  if (bounds.length > 0)
    (server as Server & { connectionsCheckingInterval: number }).connectionsCheckingInterval = Math.max(
      50,
      Math.min(1_000, Math.floor(Math.min(...bounds) / 4)),
    );
  if (o.maxConnectionsPerAddress > 0) server.on('connection', perAddress(o.maxConnectionsPerAddress, o.ipv6ClientPrefixBits));
  const max = connectionCap(o.maxConnections, openFileLimit());
  if (max > 0) server.maxConnections = max; // Node closes the ones beyond on arrival
}

/**
 * The bound on connections in all: the setting, and no more than two fifths of the files the process may open:
 * each proxied request holds a second, to its worker, and the rest is the store's, the agents', the logs'. Past
 * that limit `accept` fails, and so does everything else that opens a file. 0: unbounded.
 */
export function connectionCap(setting: number, fileLimit: number | null): number {
  const room = fileLimit === null ? 0 : Math.max(1, Math.floor(fileLimit * 0.4));
  if (setting === 0) return 0;
  return room === 0 ? setting : Math.min(setting, room);
}

/** The process's limit on open files (the soft one), or null where it cannot be read (not Linux, or unlimited). */
export function openFileLimit(limits: () => string = () => readFileSync('/proc/self/limits', 'utf8')): number | null {
  let text: string;
  try {
    text = limits();
  } catch {
    return null;
  }
  const soft = /^Max open files\s+(\d+)/m.exec(text)?.[1];
  return soft === undefined ? null : Number(soft);
}

/** A `connection` listener that closes a client's connections beyond `max` at once (counted per client: domain/client-group.ts). */
function perAddress(max: number, v6Bits: number): (socket: Socket) => void {
  const open = new Map<string, number>();
  return (socket) => {
    const addr = clientGroup(socket.remoteAddress, v6Bits);
    const n = open.get(addr) ?? 0;
    if (n >= max) {
      socket.destroy();
      return;
    }
    open.set(addr, n + 1);
    socket.once('close', () => {
      const left = (open.get(addr) ?? 1) - 1;
      if (left <= 0) open.delete(addr);
      else open.set(addr, left);
    });
  };
}
