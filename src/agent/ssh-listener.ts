import { createServer, type Server, type Socket } from 'node:net';
import ssh2 from 'ssh2';

export interface SshListenerOptions {
  readonly hostKey: string;
  /** A connection not logged in within this is cut (OpenSSH's LoginGraceTime): one that sends nothing holds nothing. */
  readonly loginGraceMs: number;
  /**
   * A logged-in peer is asked this often whether it is there, and cut after three unanswered asks; once this side
   * ended a connection (a logout, the listener's end), the peer has this long to close its own before it is cut.
   */
  readonly keepaliveMs: number;
}

/** Unanswered keepalives before a logged-in connection is ended (OpenSSH's ClientAliveCountMax). */
const KEEPALIVE_COUNT = 3;
/**
 * Connections not logged in yet, from one address and to one listener; one more is cut at once. The port is
 * public, and connections that never log in would otherwise take the agent's file descriptors; one address
 * alone cannot fill the listener's share and keep everyone else out (OpenSSH's MaxStartups, 10:30:100, begins
 * to drop connections at random at 10 and refuses every new one at 100).
 */
const MAX_UNPROVEN_PER_ADDRESS = 10;
const MAX_UNPROVEN = 100;

const peerOf = (ip: string | undefined, port: number | undefined): string => `${ip ?? ''}|${port ?? ''}`;

/**
 * One instance's SSH listener. Its own TCP server hands each connection to ssh2 (`injectSocket`), so every
 * socket is known from its first byte, not only once ssh2 read a greeting: ending the listener (the instance
 * stops, the agent stops) waits on no peer, where ssh2's own server waited for every connection to close, and
 * a caller that sent nothing, or a peer gone silent (a laptop asleep: its socket lingers for the kernel's
 * retransmissions, some 15 minutes), held the instance's stop that long.
 */
export class SshListener {
  readonly #o: SshListenerOptions;
  readonly #net: Server;
  readonly #sockets = new Set<Socket>();
  readonly #clients = new Set<ssh2.Connection>();
  /** Open sockets by their peer's address and port: what ssh2 tells of a client. */
  readonly #byPeer = new Map<string, Socket>();
  /** Connections not logged in yet, with their address and their grace's timer; and how many per address. */
  readonly #unproven = new Map<Socket, { readonly address: string; readonly grace: NodeJS.Timeout }>();
  readonly #unprovenFrom = new Map<string, number>();

  constructor(o: SshListenerOptions, onClient: (client: ssh2.Connection) => void) {
    this.#o = o;
    const ssh = new ssh2.Server({ hostKeys: [o.hostKey], keepaliveInterval: o.keepaliveMs, keepaliveCountMax: KEEPALIVE_COUNT }, (client, info) => {
      const sock = this.#byPeer.get(peerOf(info.ip, info.port));
      this.#clients.add(client);
      client.on('close', () => this.#clients.delete(client));
      client.once('ready', () => sock !== undefined && this.#proven(sock));
      // Keepalives unanswered: ssh2 ends its side, but a peer that answers nothing closes nothing, and what is
      // still to be written to it (a client that stopped reading) would keep the connection and its sessions.
      client.on('error', (err: Error & { level?: string }) => err.level === 'client-timeout' && sock?.destroy());
      onClient(client);
    });
    this.#net = createServer((sock) => {
      const address = sock.remoteAddress;
      // Reset before it was taken (no address), or one too many not logged in: cut at once.
      if (address === undefined || this.#unproven.size >= MAX_UNPROVEN || (this.#unprovenFrom.get(address) ?? 0) >= MAX_UNPROVEN_PER_ADDRESS) {
        return void sock.destroy();
      }
      const peer = peerOf(address, sock.remotePort);
      this.#sockets.add(sock);
      this.#byPeer.set(peer, sock);
      this.#unproven.set(sock, { address, grace: setTimeout(() => sock.destroy(), o.loginGraceMs).unref() });
      this.#unprovenFrom.set(address, (this.#unprovenFrom.get(address) ?? 0) + 1);
      // This side ended it (a logout, the listener's end): the peer may never close its own.
      sock.once('finish', () => setTimeout(() => sock.destroy(), o.keepaliveMs).unref());
      sock.once('close', () => {
        this.#sockets.delete(sock);
        if (this.#byPeer.get(peer) === sock) this.#byPeer.delete(peer);
        this.#proven(sock);
      });
      ssh.injectSocket(sock);
    });
  }

  /** Logged in, or gone: no longer counted, nor cut at the grace's end. */
  #proven(sock: Socket): void {
    const u = this.#unproven.get(sock);
    if (u === undefined) return;
    clearTimeout(u.grace);
    this.#unproven.delete(sock);
    const n = (this.#unprovenFrom.get(u.address) ?? 1) - 1;
    if (n > 0) this.#unprovenFrom.set(u.address, n);
    else this.#unprovenFrom.delete(u.address);
  }

  /** Resolves once listening; rejects if the address cannot be bound. Later errors go to `onError`. */
  listen(port: number, host: string, onError: (err: Error) => void): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      this.#net.once('error', reject);
      this.#net.listen(port, host, () => {
        this.#net.off('error', reject);
        this.#net.on('error', onError);
        resolve();
      });
    });
  }

  /**
   * Stops listening at once, says goodbye to every client and cuts each connection once that is written (or
   * after keepaliveMs, if it cannot be): nothing here waits on a peer.
   */
  close(): void {
    this.#net.close();
    for (const c of this.#clients) c.end();
    for (const sock of this.#sockets) {
      sock.destroySoon();
      setTimeout(() => sock.destroy(), this.#o.keepaliveMs).unref();
    }
  }
}
