import { connect, createServer, type Server, type Socket } from 'node:net';

/**
 * A TCP relay on loopback in front of a server (the run's PostgreSQL), to take the network away under a test:
 * `cut` is the server stopping (open connections reset, new ones refused) and `open` it starting again on the
 * same port; `freeze` is a silent network cut (every byte dropped both ways, nothing closed) and `thaw` its end.
 */
export class TcpRelay {
  readonly #target: { host: string; port: number };
  readonly #sockets = new Set<Socket>();
  #frozen = false;
  #server: Server | null = null;
  port = 0;
  /** Connections accepted so far (a client's new try shows here, frozen or not). */
  accepted = 0;

  constructor(target: { host: string; port: number }) {
    this.#target = target;
  }

  /** Listen (again, on the same port once it has one); nothing when it listens. */
  async open(): Promise<void> {
    if (this.#server !== null) return;
    const server = createServer((down) => {
      this.accepted++;
      const up = connect(this.#target.port, this.#target.host);
      for (const [from, to] of [
        [down, up],
        [up, down],
      ] as const) {
        this.#sockets.add(from);
        from.on('data', (chunk: Buffer) => {
          if (!this.#frozen) to.write(chunk); // frozen: lost, as packets are in a silent cut
        });
        // A side that closes ends its pair; nothing else closes while frozen.
        from.on('close', () => {
          this.#sockets.delete(from);
          to.destroy();
        });
        from.on('error', () => to.destroy());
      }
    });
    await new Promise<void>((resolve, reject) => server.once('error', reject).listen(this.port, '127.0.0.1', () => resolve()));
    const addr = server.address();
    this.port = typeof addr === 'object' && addr !== null ? addr.port : 0;
    this.#server = server;
  }

  /** The server "stops": open connections reset, new ones refused. */
  async cut(): Promise<void> {
    const server = this.#server;
    this.#server = null;
    const closed = new Promise<void>((resolve) => (server === null ? resolve() : server.close(() => resolve())));
    for (const s of this.#sockets) s.destroy();
    await closed;
  }

  freeze(): void {
    this.#frozen = true;
  }

  thaw(): void {
    this.#frozen = false;
  }
}
