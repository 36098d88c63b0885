import { STATUS_CODES } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { GantryError } from '../../domain/errors.js';
import { Abort } from '../../gateway/abort.js';
import type { WireCaller, WireForward } from '../../gateway/gateway.js';
import type { AnswerSink, Exchange, WireUpstreams } from '../../gateway/wire-upstream.js';
import { MAX_HEAD_BYTES, readRequestHead, type RequestHead, type ResponseHead } from '../../gateway/wire-http.js';
import { endedStream, writeHead } from './wire-socket.js';

/** Request bodies up to this size are read whole and forwarded by the wire path; larger ones go to Node's server. */
export const MAX_WIRE_BODY = 64 * 1024;
/** How often a request goes to another worker when one refused the connection (as the full path does). */
const ATTEMPTS = 3;

/** What a data route forwards on the wire: the gateway's hand-out (worker, path, headers, how it ended). */
export type WireCall = WireForward;

export interface WireRoute {
  readonly prefix: string;
  /**
   * A request it forwards (a promise when it waits for a worker or a store read, given up when
   * `caller.gone` aborts), or null: Node's server serves it. Throws what the caller is answered.
   */
  wire(h: RequestHead, caller: WireCaller): WireCall | Promise<WireCall> | null;
  /** Its status and duration, for the HTTP metrics. */
  meter(status: number, seconds: number): void;
  /** An error as the route's dialect answers it. */
  render(err: unknown, h: RequestHead): { status: number; headers: Record<string, string | readonly string[]>; body: unknown };
}

export interface WirePathOptions {
  readonly routes: readonly WireRoute[];
  readonly upstreams: WireUpstreams;
  /** Give the connection to Node's HTTP server (the bytes read and not yet served are then passed to it as read). */
  readonly handOff: (socket: Socket | Duplex) => void;
  /** How long a connection is kept between its requests. */
  readonly keepAliveMs: number;
  /** How long a new connection may take to send its first request (Node's server's header bound, read at accept); 0: keepAliveMs. */
  readonly firstRequestMs?: () => number;
}

/**
 * The proxy's wire path ([decision 024](../../../docs/decisions/024-wire-data-path.md)): connections
 * are read as bytes; a plain HTTP/1.1 request to a data route is forwarded to its worker over a raw
 * keep-alive connection and the answer passed back as it arrives, with no request, response or stream
 * objects. The first request it does not take (another route, a chunked or large upload, anything
 * unusual) hands the connection, unread bytes included, to Node's HTTP server for good.
 */
export class WirePath {
  readonly #conns = new Set<WireConnection>();
  #closing = false;

  constructor(readonly o: WirePathOptions) {}

  accept(socket: Socket): void {
    const c = new WireConnection(this, socket);
    this.#conns.add(c);
    socket.once('close', () => this.#conns.delete(c));
  }

  get closing(): boolean {
    return this.#closing;
  }

  /** The server closes: idle connections now, busy ones once their answer is sent; new requests go to Node's server (which refuses them). */
  close(): void {
    this.#closing = true;
    for (const c of this.#conns) c.closeIfIdle();
  }

  forget(c: WireConnection): void {
    this.#conns.delete(c);
  }
}

class WireConnection implements WireCaller {
  #buf: Buffer | null = null;
  /** Made when a request first waits for a worker (most never do), aborted when the caller's connection closes. */
  #gone: Abort | null = null;
  #busy = false;
  #own = true;
  /** Inside #next's loop: an answer finished synchronously continues the loop instead of entering it again. */
  #looping = false;
  /**
   * The caller half-closed: its requests read so far are answered (those sent to a worker, and those
   * served by Node's server), then the connection ends; one that must wait for a worker is given up.
   */
  #ended = false;
  /** The request being answered (one listener on the socket for all of them, not one added and removed per request). */
  current: WireRequest | null = null;
  readonly #onData = (d: Buffer): void => {
    this.#buf = this.#buf === null ? d : Buffer.concat([this.#buf, d]);
    if (!this.#busy) this.#next();
    // A caller that sends ahead while its request is served: read no more than the next request can hold.
    else if (this.#buf.length > MAX_HEAD_BYTES + MAX_WIRE_BODY) this.socket.pause();
  };

  constructor(
    readonly path: WirePath,
    readonly socket: Socket,
  ) {
    socket.setNoDelay(true);
    socket.on('data', this.#onData);
    socket.on('error', () => undefined); // a caller gone mid-answer; 'close' follows
    socket.on('close', () => {
      this.#gone?.abort(null);
      this.current?.callerLeft();
    });
    socket.on('end', () => {
      this.#ended = true;
      // A request still waiting for a worker is given up, as Node's server and nginx take an end of input
      // for the caller leaving; one already at its worker is answered (a half-closing caller still reads).
      this.#gone?.abort(null);
      if (this.#own && !this.#busy && this.#buf === null) socket.end();
    });
    // Not the keep-alive time before the first request: Node's server would answer that one 408 at its header bound.
    const first = path.o.firstRequestMs?.() ?? 0;
    socket.setTimeout(first > 0 ? Math.min(first, path.o.keepAliveMs) : path.o.keepAliveMs, () => {
      if (this.#busy || !this.#own) return;
      if (this.#buf === null) socket.destroy();
      else this.#handOff(); // a head that stalls: Node's server applies its own header timeout
    });
  }

  get gone(): Abort {
    if (this.#gone === null) {
      this.#gone = new Abort();
      if (this.socket.destroyed || this.#ended) this.#gone.abort(null);
    }
    return this.#gone;
  }

  closeIfIdle(): void {
    if (this.#own && !this.#busy) {
      if (this.#buf === null) this.socket.destroy();
      else this.#handOff();
    }
  }

  #handOff(): void {
    if (!this.#own) return;
    this.#own = false;
    this.path.forget(this);
    const s = this.socket;
    s.pause();
    s.removeListener('data', this.#onData);
    s.setTimeout(0);
    s.removeAllListeners('timeout');
    const rest = this.#buf;
    this.#buf = null;
    if (this.#ended) {
      // The socket's read side is over, so bytes cannot be put back on it: Node's server gets a stream of
      // what is left that writes to the socket.
      this.path.o.handOff(endedStream(s, rest));
      return;
    }
    this.path.o.handOff(s);
    // What was read goes to Node's server as read, not put back on the socket (unshift): a socket whose own stream
    // was asked for that chunk read on for itself, after Node's server had paused it for a body its handler had not
    // read yet, so every upload handed over was read into memory whole (a 300 MB body: 300 MB held).
    if (rest !== null) s.emit('data', rest);
    s.resume();
  }

  /** Serve the requests read so far, one at a time. */
  #next(): void {
    if (this.#looping) return;
    this.#looping = true;
    try {
      this.#serve();
    } finally {
      this.#looping = false;
    }
  }

  #serve(): void {
    while (this.#own && !this.#busy && this.#buf !== null && !this.socket.destroyed) {
      const buf = this.#buf;
      const h = readRequestHead(buf);
      // A head split over reads (a slow or odd client): Node's server, with its header timeout, reads the rest.
      if (h === 'incomplete' || h === null || h.contentLength > MAX_WIRE_BODY || this.path.closing) return this.#handOff();
      const total = h.headBytes + Math.max(0, h.contentLength);
      const route = this.path.o.routes.find((r) => h.target.startsWith(r.prefix));
      // A body still on its way (a large or slow upload) is Node's server's to read, with its request timeout.
      if (route === undefined || buf.length < total) return this.#handOff();
      let call: WireCall | Promise<WireCall> | null = null;
      let refused: unknown = null;
      try {
        call = route.wire(h, this);
      } catch (err) {
        refused = err;
      }
      if (call === null && refused === null) return this.#handOff();
      this.#buf = buf.length > total ? buf.subarray(total) : null;
      const body = h.contentLength > 0 ? buf.subarray(h.headBytes, total) : null;
      this.#busy = true;
      this.socket.setTimeout(this.path.o.keepAliveMs);
      const req = new WireRequest(this, route, h, body);
      if (refused !== null) req.error(refused);
      else if (call instanceof Promise)
        call.then(
          (c) => req.send(c),
          (err: unknown) => req.error(err),
        );
      else req.send(call as WireCall);
    }
  }

  /** The answer is sent: the next request, or the end of the connection. */
  done(close: boolean): void {
    this.#busy = false;
    if (this.socket.isPaused()) this.socket.resume();
    if (close || this.path.closing) {
      this.socket.end();
      return;
    }
    if (this.#buf !== null) this.#next();
    if (this.#ended && this.#own && !this.#busy && this.#buf === null) this.socket.end();
  }
}

/** One request on the wire path, from its forwarding to the last byte of its answer. */
class WireRequest implements AnswerSink {
  readonly #started = performance.now();
  #call: WireCall | null = null;
  #exchange: Exchange | null = null;
  #attempt = 0;
  #status = 0;
  #over = false;
  /** The caller was told the connection closes after this answer (the worker's answer ends with its connection). */
  #closeAfter = false;
  readonly #onAbort = (): void => {
    this.#exchange?.abort();
    this.fail((this.#call as WireCall).signal.reason, false, this.#status !== 0);
  };

  constructor(
    readonly conn: WireConnection,
    readonly route: WireRoute,
    readonly h: RequestHead,
    readonly body: Buffer | null,
  ) {
    conn.current = this;
  }

  /**
   * The caller left: an answer under way goes at once (the worker's slot with it); one the worker has
   * not begun, when it begins (the worker is still at work on it until then); a request waiting for a
   * worker leaves the queue at once (its `gone`).
   */
  callerLeft(): void {
    if (this.#status !== 0 && !this.#over) {
      this.#exchange?.abort();
      this.#end(false);
    }
  }

  send(call: WireCall): void {
    this.#call = call;
    this.#attempt++;
    if (this.conn.socket.destroyed) {
      call.left();
      return this.#finish(499, true);
    }
    call.signal.on('abort', this.#onAbort);
    const h = this.h;
    const up = this.conn.path.o.upstreams;
    const cl = h.contentLength >= 0 ? `content-length: ${h.contentLength}\r\n` : '';
    const head = `${h.method} ${call.path} HTTP/1.1\r\nhost: ${up.host(call.origin)}\r\n${h.forward}${cl}${call.extra}\r\n`;
    const idempotent = h.method !== 'POST' && h.method !== 'PATCH';
    this.#exchange = up.send(call.origin, this.body === null ? [head] : [head, this.body], idempotent, this);
  }

  answer(head: ResponseHead | null, body: Buffer | null, ended: boolean): boolean {
    const s = this.conn.socket;
    if (head !== null) {
      this.#status = head.status;
      if (s.destroyed) {
        // The caller left before the answer began: the worker's work is counted for it, the request as left.
        this.#exchange?.abort();
        const call = this.#call as WireCall;
        call.signal.removeListener('abort', this.#onAbort);
        call.left(head.status);
        this.#finish(499, true);
        return true;
      }
      const close = this.h.close || head.framing.kind === 'close';
      this.#closeAfter = close;
      writeHead(s, `${head.head}${close ? '\r\nconnection: close' : ''}\r\n\r\n`, body);
    } else if (body !== null && !s.destroyed) s.write(body);
    if (ended) {
      this.#end(true);
      return true;
    }
    if (s.writableNeedDrain) {
      s.once('drain', () => this.#exchange?.resume());
      return false;
    }
    return true;
  }

  fail(err: unknown, notSent: boolean, began: boolean): void {
    const call = this.#call as WireCall;
    call.signal.removeListener('abort', this.#onAbort);
    if (began) {
      this.conn.socket.destroy(); // the answer had begun: cut it, so the caller sees a broken answer, not a short one
      this.#end(false);
      return;
    }
    if (notSent) {
      const e = call.refused(this.#attempt >= ATTEMPTS);
      if (this.#attempt >= ATTEMPTS) return this.error(e);
      let next: WireCall | Promise<WireCall> | null;
      try {
        next = this.route.wire(this.h, this.conn);
      } catch (x) {
        return this.error(x);
      }
      if (next === null) return this.error(e);
      if (next instanceof Promise)
        next.then(
          (c) => this.send(c),
          (x: unknown) => this.error(x),
        );
      else this.send(next);
      return;
    }
    this.error(call.failed(err));
  }

  /** Answer an error in the route's dialect (counted as failed by whoever threw it, or by `fail`). */
  error(err: unknown): void {
    // No one left to answer (a caller that half-closed while its request waited is taken as gone too).
    if (this.conn.socket.destroyed || (err instanceof GantryError && err.code === 'CALLER_LEFT')) return this.#finish(499, true);
    const r = this.route.render(err, this.h);
    const body = Buffer.from(JSON.stringify(r.body));
    let head = `HTTP/1.1 ${r.status} ${STATUS_CODES[r.status] ?? ''}\r\n`;
    for (const [k, v] of Object.entries(r.headers)) for (const one of typeof v === 'string' ? [v] : v) head += `${k}: ${one}\r\n`;
    head += `content-length: ${body.length}\r\n${this.h.close ? 'connection: close\r\n' : ''}\r\n`;
    if (!this.conn.socket.destroyed) writeHead(this.conn.socket, head, body);
    this.#finish(r.status, false);
  }

  #end(whole: boolean): void {
    const call = this.#call as WireCall;
    call.signal.removeListener('abort', this.#onAbort);
    call.ended(this.#status);
    this.#finish(this.#status, !whole);
  }

  #finish(status: number, close: boolean): void {
    if (this.#over) return;
    this.#over = true;
    if (this.conn.current === this) this.conn.current = null;
    this.route.meter(status, (performance.now() - this.#started) / 1000);
    this.conn.done(close || this.h.close || this.#closeAfter);
  }
}
