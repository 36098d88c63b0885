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
 * Connections of one listener not logged in yet; one more is cut at once (OpenSSH's MaxStartups begins to
 * refuse at 10): the port is public, and connections that never log in would otherwise take the agent's files.
 */
const MAX_UNPROVEN = 10;

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
  /** Connections not logged in yet, by their peer's address and port (what ssh2 says of a client), with their grace. */
  readonly #unproven = new Map<string, NodeJS.Timeout>();

  constructor(o: SshListenerOptions, onClient: (client: ssh2.Connection) => void) {
    this.#o = o;
    const ssh = new ssh2.Server({ hostKeys: [o.hostKey], keepaliveInterval: o.keepaliveMs, keepaliveCountMax: KEEPALIVE_COUNT }, (client, info) => {
      this.#clients.add(client);
      client.on('close', () => this.#clients.delete(client));
      client.once('ready', () => this.#proven(peerOf(info.ip, info.port)));
      onClient(client);
    });
    this.#net = createServer((sock) => {
      if (this.#unproven.size >= MAX_UNPROVEN) return void sock.destroy();
      const peer = peerOf(sock.remoteAddress, sock.remotePort);
      this.#sockets.add(sock);
      this.#unproven.set(peer, setTimeout(() => sock.destroy(), o.loginGraceMs).unref());
      // This side ended it (a logout, keepalives unanswered, the listener's end): the peer may never close its own.
      sock.once('finish', () => setTimeout(() => sock.destroy(), o.keepaliveMs).unref());
      sock.once('close', () => {
        this.#sockets.delete(sock);
        this.#proven(peer);
      });
      ssh.injectSocket(sock);
    });
  }

  #proven(peer: string): void {
    clearTimeout(this.#unproven.get(peer));
    this.#unproven.delete(peer);
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

  /** Sockets open now, logged in or not. */
  get connections(): number {
    return this.#sockets.size;
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
