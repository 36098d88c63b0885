import { connect, type Socket } from 'node:net';
import { GantryError } from '../domain/errors.js';
import { wasNotSent } from './proxy.js';
import { ChunkedEnd, readResponseHead, type ResponseHead } from './wire-http.js';

/**
 * By default an idle connection to a worker is not used again after this long (under Node's default
 * keep-alive of 5 s, so the worker rarely closes first), and a sweep closes it. Timestamps and one sweep
 * per worker, not a socket timer re-armed twice per request: timers were a measurable share of a request.
 */
const IDLE_MS = 4_000;
/** Idle connections kept per worker. */
const MAX_IDLE = 256;
/** A worker that does not accept a connection within this is passed over for another (as undici's connect timeout was). */
const CONNECT_TIMEOUT_MS = 5_000;

/** Where a worker's answer goes, as it arrives: once per batch of bytes read. */
export interface AnswerSink {
  /**
   * `head`: the answer's head when it arrived in this batch; `body`: body bytes (framing included,
   * passed on unchanged); `ended`: the answer is complete. Answers false to ask for a pause (`resume`
   * then goes on).
   */
  answer(head: ResponseHead | null, body: Buffer | null, ended: boolean): boolean;
  /** The exchange failed. `notSent`: the worker cannot have seen the request; `began`: part of the answer was passed on. */
  fail(err: unknown, notSent: boolean, began: boolean): void;
}

/** A request on its way: `abort` drops it (the connection with it); `resume` after a pause. */
export interface Exchange {
  abort(): void;
  resume(): void;
}

/** A request and the connection it is on now (a retry moves it to a new one). */
class Pending implements Exchange {
  conn: Conn | null = null;

  constructor(
    readonly bytes: readonly (string | Buffer)[],
    readonly idempotent: boolean,
    readonly sink: AnswerSink,
  ) {}

  abort(): void {
    this.conn?.abort();
  }

  resume(): void {
    this.conn?.socket.resume();
  }
}

/** One keep-alive connection to a worker, carrying one exchange at a time. */
class Conn {
  readonly socket: Socket;
  /** It carried an answer before: a failure with nothing read may be the worker closing it as it sat idle. */
  reused = false;
  #req: Pending | null = null;
  #buf: Buffer | null = null;
  #head: ResponseHead | null = null;
  #left = 0;
  #chunks: ChunkedEnd | null = null;
  /** The answer's head went to the sink: a failure now cuts a begun answer. */
  #passed = false;
  /** When it last went back to the pool (performance.now()). */
  idleSince = 0;

  constructor(
    readonly pool: Upstream,
    socket: Socket,
  ) {
    this.socket = socket;
    socket.setNoDelay(true);
    socket.on('data', (d: Buffer) => this.#read(d));
    socket.on('error', (err) => this.#failed(err));
    socket.on('close', () => this.#failed(null));
    // Connecting, the connect timeout; then, for good, the bound on a worker's silence during a request.
    socket.setTimeout(CONNECT_TIMEOUT_MS);
    socket.once('connect', () => socket.setTimeout(this.pool.timeoutMs));
    socket.on('timeout', () => {
      if (this.#req === null) {
        this.pool.forget(this);
        socket.destroy();
      } else if (socket.connecting) this.#failed(Object.assign(new Error('connect timeout'), { code: 'UND_ERR_CONNECT_TIMEOUT' }));
      else this.#failed(new GantryError('WORKER_TIMEOUT', `The worker did not answer within ${this.pool.timeoutMs / 1000}s.`, { origin: this.pool.origin }));
    });
    pool.track(this);
  }

  /** The server stops: the request on it, if any, fails now rather than holding the shutdown. */
  shutdown(): void {
    if (this.#req === null) this.socket.destroy();
    else this.#failed(new GantryError('SHUTTING_DOWN', 'This server is shutting down; the request was cut.'));
  }

  send(req: Pending): void {
    this.#req = req;
    req.conn = this;
    this.#passed = false;
    if (req.bytes.length === 1) this.socket.write(req.bytes[0] as string, 'latin1');
    else {
      this.socket.cork();
      for (const b of req.bytes) {
        if (typeof b === 'string') this.socket.write(b, 'latin1');
        else this.socket.write(b);
      }
      this.socket.uncork();
    }
  }

  abort(): void {
    this.#req = null;
    this.pool.forget(this);
    this.socket.destroy();
  }

  #read(d: Buffer): void {
    const req = this.#req;
    if (req === null) {
      this.socket.destroy(); // bytes nobody asked for: the connection is not in a known state
      return;
    }
    let head: ResponseHead | null = null;
    let body: Buffer | null = d;
    if (this.#head === null) {
      const buf = this.#buf === null ? d : Buffer.concat([this.#buf, d]);
      const h = readResponseHead(buf);
      if (h === 'incomplete') {
        this.#buf = buf;
        return;
      }
      this.#buf = null;
      if (h === null) return this.#failed(new Error('the worker sent an answer that is not valid HTTP/1.1'));
      if (h.status < 200) return this.#read(buf.subarray(h.headBytes)); // an interim answer (103): not passed on
      head = this.#head = h;
      body = buf.subarray(h.headBytes);
      if (h.framing.kind === 'length') this.#left = h.framing.bytes;
      else if (h.framing.kind === 'chunked') this.#chunks = new ChunkedEnd();
    }
    const framing = this.#head.framing.kind;
    let ended = false;
    let extra = false;
    if (framing === 'length') {
      if (body.length >= this.#left) {
        extra = body.length > this.#left;
        body = body.subarray(0, this.#left);
        ended = true;
      }
      this.#left -= body.length;
    } else if (framing === 'chunked') {
      const at = (this.#chunks as ChunkedEnd).feed(body);
      if (at === -2) return this.#failed(new Error('the worker sent a broken chunked answer'));
      if (at >= 0) {
        extra = at < body.length;
        body = body.subarray(0, at);
        ended = true;
      }
    }
    const close = this.#head.close || extra;
    this.#passed = true;
    if (ended) this.#done(!close);
    if (!req.sink.answer(head, body.length === 0 ? null : body, ended) && !ended) this.socket.pause();
  }

  /** The answer is complete: the connection goes back to the pool, or is closed. */
  #done(reusable: boolean): void {
    // The exchange is over: an abort or a resume from its caller after this must not reach the connection's next request.
    if (this.#req !== null) this.#req.conn = null;
    this.#req = null;
    this.#head = null;
    this.#chunks = null;
    this.reused = true;
    if (reusable) this.pool.idle(this);
    else this.socket.destroy();
  }

  #failed(err: unknown): void {
    const req = this.#req;
    this.#req = null;
    this.socket.destroy();
    this.pool.forget(this);
    if (req === null) return;
    // A connection the worker had closed: nothing went out, whatever the method.
    if ((err as { code?: unknown } | null)?.code === 'ERR_STREAM_WRITE_AFTER_END' && this.reused) {
      this.pool.send(req, true);
      return;
    }
    const head = this.#head;
    this.#head = null;
    if (head !== null && head.framing.kind === 'close' && err === null) {
      req.sink.answer(null, null, true); // an answer that ends with its connection
      return;
    }
    const nothingRead = head === null && this.#buf === null;
    // Not after a timeout: a worker too slow for the bound is not asked twice.
    if (nothingRead && this.reused && req.idempotent && !(err instanceof GantryError)) {
      this.pool.send(req, true); // most likely the worker closed the idle connection as the request went out: once more, on a new one
      return;
    }
    const notSent = wasNotSent(err) && !this.reused;
    const e =
      err instanceof GantryError || notSent
        ? err
        : new GantryError(
            'WORKER_FAILED',
            `The worker failed while handling the request (${err instanceof Error ? ((err as { code?: string }).code ?? err.message) : 'the connection closed'}); it may have been partly processed.`,
            { origin: this.pool.origin },
          );
    req.sink.fail(e, notSent, this.#passed);
  }
}

/** Keep-alive connections to one worker. */
class Upstream {
  readonly #idle: Conn[] = [];
  /** Every open connection, idle or busy. */
  readonly #all = new Set<Conn>();
  readonly #host: string;
  readonly #port: number;

  constructor(
    readonly origin: string,
    readonly timeoutMs: number,
    readonly idleMs: number,
  ) {
    const u = new URL(origin);
    this.#host = u.hostname.replace(/^\[|\]$/g, '');
    this.#port = Number(u.port || 80);
    this.hostHeader = u.host;
  }

  readonly hostHeader: string;

  #sweep: NodeJS.Timeout | null = null;

  send(req: Pending, fresh = false): void {
    let c = fresh ? undefined : this.#idle.pop();
    // One destroyed while idle (its 'close' not heard yet) never carries a request.
    while (c !== undefined && c.socket.destroyed) c = this.#idle.pop();
    // The newest idle connection is past its time: so are the older ones under it.
    if (c !== undefined && performance.now() - c.idleSince >= this.idleMs) {
      this.#closeIdle(this.#idle.length);
      c.socket.destroy();
      c = undefined;
    }
    if (c === undefined) c = new Conn(this, connect(this.#port, this.#host));
    c.send(req);
  }

  idle(c: Conn): void {
    if (this.#idle.length >= MAX_IDLE) {
      c.socket.destroy();
      return;
    }
    c.idleSince = performance.now();
    this.#idle.push(c);
    if (this.#sweep === null) this.#armSweep();
  }

  #armSweep(): void {
    this.#sweep = setTimeout(() => {
      this.#sweep = null;
      const now = performance.now();
      let expired = 0;
      while (expired < this.#idle.length && now - (this.#idle[expired] as Conn).idleSince >= this.idleMs) expired++;
      this.#closeIdle(expired);
      if (this.#idle.length > 0) this.#armSweep();
    }, this.idleMs / 2);
    this.#sweep.unref();
  }

  /** Close the `n` oldest idle connections (the pool's bottom). */
  #closeIdle(n: number): void {
    for (const c of this.#idle.splice(0, n)) {
      this.#all.delete(c);
      c.socket.destroy();
    }
  }

  track(c: Conn): void {
    this.#all.add(c);
  }

  forget(c: Conn): void {
    this.#all.delete(c);
    const i = this.#idle.indexOf(c);
    if (i >= 0) this.#idle.splice(i, 1);
  }

  close(): void {
    if (this.#sweep !== null) clearTimeout(this.#sweep);
    this.#sweep = null;
    this.#idle.length = 0;
    for (const c of [...this.#all]) c.shutdown();
    this.#all.clear();
  }
}

/**
 * Requests to workers over raw keep-alive connections: the head is written as text, the answer read
 * with `readResponseHead` and passed on as it arrives. No request or response objects, no streams.
 */
export class WireUpstreams {
  readonly #pools = new Map<string, Upstream>();
  #closed = false;

  /** `timeoutMs`: how long a worker may stay silent during a request; `idleMs`: how long an idle connection is kept. */
  constructor(
    readonly timeoutMs: number,
    readonly idleMs = IDLE_MS,
  ) {}

  /** The Host header for a worker origin. */
  host(origin: string): string {
    return this.#pool(origin).hostHeader;
  }

  #pool(origin: string): Upstream {
    let p = this.#pools.get(origin);
    if (p === undefined) this.#pools.set(origin, (p = new Upstream(origin, this.timeoutMs, this.idleMs)));
    return p;
  }

  /** Send `bytes` (a request head as latin1 text, then its body) to the worker and pass its answer to `sink`. */
  send(origin: string, bytes: readonly (string | Buffer)[], idempotent: boolean, sink: AnswerSink): Exchange {
    const req = new Pending(bytes, idempotent, sink);
    if (this.#closed) queueMicrotask(() => sink.fail(new GantryError('SHUTTING_DOWN', 'This server is shutting down; try again.'), false, false));
    else this.#pool(origin).send(req);
    return req;
  }

  /** Fails the requests under way and closes every connection; later requests fail at once. */
  close(): void {
    this.#closed = true;
    for (const p of this.#pools.values()) p.close();
    this.#pools.clear();
  }
}
