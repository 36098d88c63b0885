import { Duplex } from 'node:stream';
import type { Socket } from 'node:net';

// Socket helpers of the wire path (wire-path.ts).

/**
 * The rest of a half-closed connection for Node's server: `rest`, answers written to `socket`. The end of
 * input is not passed on (Node's server would take it as the caller leaving and drop the request); the
 * connection ends when Node's server lets go of it (after its answer and keep-alive) or the caller leaves.
 * (So a proxied request among them that waits for a worker is not given up at the end, as on the wire.)
 */
export function endedStream(socket: Socket, rest: Buffer | null): Duplex {
  const d = new Duplex({
    read() {},
    write(chunk: Buffer, _enc, cb) {
      socket.write(chunk, cb);
    },
    final(cb) {
      socket.end();
      cb();
    },
    destroy(err, cb) {
      socket.end();
      cb(err);
    },
  });
  if (rest !== null) d.push(rest);
  socket.once('close', () => d.destroy());
  return d;
}

/** Answers up to this size go out in one buffer with their head: one write, where a head and a body would be a writev of two. */
const ONE_WRITE_BYTES = 16 * 1024;

/** A head (latin1 text) and the body bytes that came with it, in as few writes as is cheap. */
export function writeHead(s: Socket, head: string, body: Buffer | null): void {
  if (body === null) {
    s.write(head, 'latin1');
    return;
  }
  if (body.length <= ONE_WRITE_BYTES) {
    const out = Buffer.allocUnsafe(head.length + body.length);
    out.write(head, 0, 'latin1');
    body.copy(out, head.length);
    s.write(out);
    return;
  }
  s.cork();
  s.write(head, 'latin1');
  s.write(body);
  s.uncork();
}
