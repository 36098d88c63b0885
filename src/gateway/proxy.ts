import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import { Pool } from 'undici';
import { GantryError } from '../domain/errors.js';
import type { Abort } from './abort.js';
import { callerAnswerHeaders } from './worker-answer-headers.js';

/** Headers that describe one hop, never forwarded (RFC 9110 §7.6.1), plus the caller's credentials. */
const HOP = new Set([
  'connection',
  'keep-alive',
  'proxy-connection',
  'transfer-encoding',
  'te',
  'trailer',
  'upgrade',
  'host',
  'authorization',
  'content-length',
]);

export interface ForwardRequest {
  readonly method: string;
  /** Path and query on the worker. */
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  /** The request body as it arrives (streamed through), or null. */
  readonly body: Readable | null;
  readonly contentLength: string | null;
  /** Extra headers for the worker (routing signature). */
  readonly extra: Readonly<Record<string, string>>;
  readonly signal: Abort;
}

export interface ForwardResponse {
  readonly status: number;
  readonly headers: Record<string, string | string[]>;
  /** The worker's answer as it arrives; `arrayBuffer()` reads it whole. */
  readonly body: Readable & { arrayBuffer(): Promise<ArrayBuffer> };
}

/** Connection errors before the worker saw anything: the request can go to another worker unchanged. */
const NOT_SENT = new Set(['ECONNREFUSED', 'UND_ERR_CONNECT_TIMEOUT', 'EHOSTUNREACH', 'ENETUNREACH']);

export function wasNotSent(err: unknown): boolean {
  const code = (err as { code?: unknown } | null)?.code;
  return typeof code === 'string' && NOT_SENT.has(code);
}

/** Keep-alive connection pools to workers, one per worker origin. */
export class WorkerPools {
  readonly #pools = new Map<string, Pool>();
  /** Pools closing once their requests are done (`#retire`): a shutdown destroys them with the rest. */
  readonly #retired = new Set<Pool>();
  readonly #timeoutMs: number;

  constructor(o: { requestTimeoutMs: number }) {
    this.#timeoutMs = o.requestTimeoutMs;
  }

  #pool(origin: string): Pool {
    let p = this.#pools.get(origin);
    if (p === undefined) {
      p = new Pool(origin, { connections: 128, pipelining: 1, keepAliveTimeout: 10_000, connect: { timeout: 5_000 } });
      this.#pools.set(origin, p);
    }
    return p;
  }

  /** Send a request to a worker and hand back its answer as a stream (bodies pass through, never buffered). */
  async forward(origin: string, r: ForwardRequest): Promise<ForwardResponse> {
    const headers: Record<string, string | string[]> = {};
    for (const [k, v] of Object.entries(r.headers)) if (v !== undefined && !HOP.has(k)) headers[k] = v;
    if (r.contentLength !== null) headers['content-length'] = r.contentLength;
    Object.assign(headers, r.extra);
    const pool = this.#pool(origin);
    try {
      const res = await pool.request({
        method: r.method as 'GET',
        path: r.path,
        headers,
        body: r.body ?? undefined,
        signal: r.signal,
        headersTimeout: this.#timeoutMs,
        bodyTimeout: this.#timeoutMs,
      });
      const out: Record<string, string | string[]> = {};
      // content-length stays: the body is passed on byte for byte, so no chunked re-encoding is needed.
      for (const [k, v] of Object.entries(res.headers)) if (v !== undefined && (!HOP.has(k) || k === 'content-length')) out[k] = v;
      // An answer given up before its end (the caller left) aborts the request in undici: see `#retire`.
      res.body.once('close', () => {
        if (!res.body.readableEnded) this.#retire(origin, pool);
      });
      return { status: res.statusCode, headers: callerAnswerHeaders(out), body: res.body };
    } catch (err) {
      if (!wasNotSent(err)) this.#retire(origin, pool);
      if (r.signal.aborted && r.signal.reason instanceof GantryError) throw r.signal.reason;
      if (wasNotSent(err)) throw err;
      const code = (err as { code?: unknown }).code;
      if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') {
        throw new GantryError('WORKER_TIMEOUT', `The worker did not answer within ${this.#timeoutMs / 1000}s.`, { origin });
      }
      throw new GantryError(
        'WORKER_FAILED',
        `The worker failed while handling the request (${typeof code === 'string' ? code : err instanceof Error ? err.message : 'unknown error'}); it may have been partly processed.`,
        {
          origin,
        },
      );
    }
  }

  /**
   * A request aborted on its way (a deadline, a drain out of time, a caller that left) or failed: the
   * worker's pool is closed once its other requests are done, and the next request opens a new one.
   * undici (6.29 here, as measured; upstream nodejs/undici#5845) puts an aborted request back as pending when its socket
   * closes, opens a new connection for it, then drops it: a connection that never carries a request,
   * kept for the keep-alive. A worker's server counts such a connection as awaiting its first request,
   * so its stop waited on it (a stop after a timed-out `_infer` took the runtime's whole grace, then the
   * kill). A closing pool closes that connection as soon as it is made.
   */
  #retire(origin: string, pool: Pool): void {
    if (this.#pools.get(origin) !== pool) return; // retired already (or dropped)
    this.#pools.delete(origin);
    this.#retired.add(pool);
    void pool
      .close()
      .catch(() => undefined)
      .finally(() => this.#retired.delete(pool));
  }

  /** Drop the pool of a worker that went away. */
  async drop(origin: string): Promise<void> {
    const p = this.#pools.get(origin);
    this.#pools.delete(origin);
    await p?.destroy().catch(() => undefined);
  }

  async close(): Promise<void> {
    const all = [...this.#pools.values(), ...this.#retired];
    this.#pools.clear();
    this.#retired.clear();
    await Promise.all(all.map((p) => p.destroy().catch(() => undefined)));
  }
}
