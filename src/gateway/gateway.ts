import type { IncomingHttpHeaders } from 'node:http';
import type { Readable } from 'node:stream';
import type { ResolvedEndpoint, RoutableWorker, RoutingView } from '../control/serverless/routing.js';
import type { ServerlessUseCases } from '../control/serverless/use-cases.js';
import type { Principal } from '../control/principal.js';
import { GantryError } from '../domain/errors.js';
import { acceptsTraffic } from '../domain/serverless/lifecycle.js';
import type { Metrics } from '../log/metrics.js';
import type { Abort } from './abort.js';
import { wasNotSent, WorkerPools, type ForwardResponse } from './proxy.js';
import { callerKey, ResolveCache } from './resolve-cache.js';
import { signedLines, type RouteKeys } from './route-keys.js';
import type { RouteGrant } from './signing.js';
import type { Assignment, Traffic } from './traffic.js';
import { WireUpstreams } from './wire-upstream.js';

/** How often a proxied request is tried on another worker when the first refused the connection. */
const CONNECT_ATTEMPTS = 3;

/**
 * What a route request gets: a worker; no worker yet (with how many workers are in each phase); a
 * stopped endpoint (it takes no requests); or one that no longer exists.
 */
export type RouteOutcome =
  | { readonly kind: 'worker'; readonly grant: RouteGrant }
  | { readonly kind: 'none'; readonly phases: RoutingView['phases'] }
  | { readonly kind: 'stopped' }
  | { readonly kind: 'gone' };

export interface ProxyRequest {
  readonly method: string;
  readonly path: string;
  readonly headers: IncomingHttpHeaders;
  readonly body: Readable | null;
  readonly contentLength: string | null;
  readonly cost: number;
  /**
   * The caller's deadline in ms (Elasticsearch's `_infer?timeout=`), from the call until the worker's
   * answer begins: past it the request leaves the queue or is aborted at the worker, and the call
   * rejects with INFERENCE_TIMEOUT. Absent or null: only the queue and worker timeouts bound it.
   */
  readonly timeoutMs?: number | null;
  /** Aborts when the caller left (its connection closed): a request waiting for a worker gives up its place (CALLER_LEFT). */
  readonly gone?: Abort;
}

/**
 * A request the wire path forwards to a worker (the transport is the edge's): where, the headers Gantry
 * adds, and how it ended. Exactly one of `ended`, `failed` or `refused` is called.
 */
export interface WireForward {
  readonly origin: string;
  /** The worker's path and query. */
  readonly path: string;
  /** The `x-gantry-*` header lines for the worker. */
  readonly extra: string;
  /** Aborted when the request must be given up (a drain out of time): its reason is the error. */
  readonly signal: Assignment['signal'];
  /** The worker's answer, begun with `status`, is over (whole, or cut after it began). */
  ended(status: number): void;
  /** Failed before the worker's answer began; returns the error to answer (a worker failure under a plain stop is the stop's). */
  failed(err: unknown): unknown;
  /** The worker refused the connection (it saw nothing): routed around for the next try, or, `last`, the error to answer. */
  refused(last: boolean): GantryError;
  /**
   * The caller left before the worker's answer began: counted as `CALLER_LEFT`, its worker's room given
   * back. `status`: the worker's answer, which began after the caller left: the work was done, so it
   * counts in the endpoint's and the worker's inference counts (and a drain's answered requests).
   */
  left(status?: number): void;
}

/** The caller of a wire request: `gone` aborts when its connection closes (read only by a request that waits). */
export interface WireCaller {
  readonly gone: Abort;
}

/**
 * The request path of serverless endpoints: `route` hands out a signed worker URL for the client to
 * call, and `proxy` forwards a request to a worker itself, queueing it while no worker has room.
 */
export class Gateway {
  readonly #uc: ServerlessUseCases;
  readonly #traffic: Traffic;
  readonly #keys: RouteKeys;
  readonly #pools: WorkerPools;
  /** Raw keep-alive connections to workers, for the edge's wire path. */
  readonly wire: WireUpstreams;
  readonly #resolved: ResolveCache;
  #reqnum = 0;

  readonly #metrics: Metrics;
  /** The answered-requests counter bound to its label once (no labels object per request). */
  readonly #answered: { inc(): void };
  /** The wire path's lines of `workerHeaders` that never change for a worker: its URL and signature (which names both the key and the URL). */
  readonly #signedLines = signedLines();

  constructor(o: {
    useCases: ServerlessUseCases;
    traffic: Traffic;
    keys: RouteKeys;
    metrics: Metrics;
    requestTimeoutMs: number;
    resolveCacheMs: number;
    current?: () => boolean;
  }) {
    this.#uc = o.useCases;
    this.#metrics = o.metrics;
    this.#answered = o.metrics.serverlessRequests.labels('ok');
    this.#resolved = new ResolveCache(o.resolveCacheMs, o.current);
    this.#traffic = o.traffic;
    this.#keys = o.keys;
    this.#pools = new WorkerPools({ requestTimeoutMs: o.requestTimeoutMs });
    this.wire = new WireUpstreams(o.requestTimeoutMs);
  }

  /** Every request that reaches a worker resolves first: the server's signing key is loaded by then (loaded once, when first needed). */
  async #resolve(name: string, key: string | null): Promise<ResolvedEndpoint> {
    if (!this.#keys.server.isReady) await this.#keys.server.ready();
    return this.#resolved.cached(callerKey(name, key), () => this.#uc.resolveEndpoint(name, key));
  }

  /** A key, a team or an endpoint changed somewhere: the next request of every caller resolves afresh. */
  forget(): void {
    this.#resolved.forget();
  }

  /** The server's route signing key's public half (Vast's GET /pubkey/). */
  async publicKeyPem(): Promise<string> {
    await this.#keys.server.ready();
    return this.#keys.server.publicKeyPem;
  }

  /** An endpoint's own signing key's public half, which its workers check hand-outs with (`/report/{ref}/pubkey/`). */
  async endpointPublicKeyPem(endpointId: number): Promise<string> {
    return (await this.#keys.endpoint(endpointId)).publicKeyPem;
  }

  /** A hand-out to the worker, signed with the key it checks with (the view's reader signed it: route-keys.ts). */
  #grant(w: RoutableWorker, cost: number, endpoint: string): RouteGrant {
    const reqnum = Date.now() * 1000 + (this.#reqnum++ % 1000);
    return { url: w.url, reqnum, signature: this.#keys.signatureFor(w), cost, endpoint };
  }

  /**
   * A worker URL with its signature, or why there is none. `demandKey` names the client's request:
   * an unanswered one is counted once as demand for the autoscaler however often it is asked again.
   */
  async route(name: string, key: string | null, cost: number, demandKey: string): Promise<RouteOutcome> {
    const resolved = await this.#resolve(name, key);
    if (!accepts(resolved)) return { kind: 'stopped' };
    const { worker, view } = await this.#traffic.route(resolved.endpoint.id, cost, demandKey);
    this.#metrics.serverlessRoutes.inc({ worker: worker === null ? 'none' : 'yes' });
    if (worker === null) {
      if (view.deleted) return { kind: 'gone' };
      return view.accepting ? { kind: 'none', phases: view.phases } : { kind: 'stopped' };
    }
    return { kind: 'worker', grant: this.#grant(worker, cost, name) };
  }

  /** Forward one request to a worker of the endpoint and return its answer as a stream. */
  async proxy(name: string, key: string | null, r: ProxyRequest): Promise<ForwardResponse> {
    return this.#counted(name, () => this.#resolve(name, key), r);
  }

  /** `proxy` for a deployment named by its public id, on behalf of a caller the dialect authenticated (AI Core's inference URLs). */
  async proxyDeployment(
    p: Principal,
    ref: { readonly uid: string; readonly resourceGroup: string; readonly fromConfiguration?: boolean },
    r: ProxyRequest,
  ): Promise<ForwardResponse> {
    // The scope is part of the key: what Elasticsearch's calls resolved is not AI Core's to reach.
    const scope = ref.fromConfiguration === true ? 'configured' : 'any';
    const k = `deployment\u0000${p.accountId}\u0000${p.keyId ?? ''}\u0000${scope}\u0000${ref.resourceGroup}\u0000${ref.uid}`;
    return this.#counted(
      ref.uid,
      async () => {
        if (!this.#keys.server.isReady) await this.#keys.server.ready();
        return this.#resolved.cached(k, () => this.#uc.resolveDeployment(p, ref));
      },
      r,
    );
  }

  /**
   * `proxy` for the wire path: a worker for the request, without a wait or a read of the store when the
   * caller's rights are known and a worker has room (no promise then), else after both.
   */
  forward(name: string, key: string | null, cost: number, path: string, caller?: WireCaller): WireForward | Promise<WireForward> {
    const known = this.#resolved.known(callerKey(name, key));
    if (known !== undefined && accepts(known) && this.#keys.server.isReady) {
      const a = this.#traffic.tryAcquire(known.endpoint.id, cost);
      if (a !== null) return this.#wireForward(name, path, known.endpoint.id, a, cost, 0);
    }
    return this.#forwardLater(name, key, cost, path, caller?.gone);
  }

  async #forwardLater(name: string, key: string | null, cost: number, path: string, gone: Abort | undefined): Promise<WireForward> {
    try {
      const resolved = await this.#resolve(name, key);
      if (!accepts(resolved)) throw stoppedEndpoint(name);
      const endpoint = resolved.endpoint;
      const waitFrom = performance.now();
      const a = await this.#traffic.acquire(endpoint.id, cost, undefined, gone);
      return this.#wireForward(name, path, endpoint.id, a, cost, performance.now() - waitFrom);
    } catch (err) {
      this.#countFailed(err);
      throw err;
    }
  }

  #wireForward(name: string, path: string, endpointId: number, a: Assignment, cost: number, waitedMs: number): WireForward {
    this.#metrics.serverlessQueueWait.observe(waitedMs / 1000);
    const sentAt = performance.now();
    const url = a.worker.url;
    const auth = this.#grant(a.worker, cost, name);
    return {
      origin: url,
      path,
      extra: this.#wireHeaders(auth),
      signal: a.signal,
      ended: (status) => {
        this.#answered.inc();
        a.release(true, status < 400 ? { kind: 'answered', ms: performance.now() - sentAt } : { kind: 'error' });
      },
      failed: (err) => {
        const e = this.#byStop(err, endpointId);
        this.#countFailed(e);
        this.#stallIfTimedOut(err, endpointId, a);
        a.release(false, { kind: endedBy(err) });
        return e;
      },
      left: (status) => {
        this.#metrics.serverlessRequests.inc({ outcome: 'CALLER_LEFT' });
        if (status === undefined) a.release();
        else a.release(true, status < 400 ? { kind: 'answered', ms: performance.now() - sentAt } : { kind: 'error' });
      },
      refused: (last) => {
        const err = last ? this.#byStop(noWorkerAccepted(name), endpointId) : noWorkerAccepted(name);
        if (last) {
          this.#countFailed(err);
          a.release(false, { kind: 'error' });
        } else {
          a.release();
          this.#traffic.fence(endpointId, a.worker.id);
        }
        return err;
      },
    };
  }

  /** `workerHeaders` as header lines. */
  #wireHeaders(g: RouteGrant): string {
    return `${this.#signedLines(g)}x-gantry-reqnum: ${g.reqnum}\r\nx-gantry-cost: ${g.cost}\r\nx-gantry-endpoint: ${g.endpoint}\r\n`;
  }

  /**
   * A worker's answer cut, or its connection refused on the last try, while a stop stops the workers
   * (a plain stop at once, any stop once past its wait: they get their grace, then the kill) is the
   * stop's doing: ENDPOINT_STOPPED, not WORKER_FAILED, which blames a worker that did what it was told.
   */
  #byStop<E>(err: E, endpointId: number): E | GantryError {
    if (!(err instanceof GantryError) || err.code !== 'WORKER_FAILED' || !this.#traffic.stoppingPlainly(endpointId)) return err;
    return new GantryError('ENDPOINT_STOPPED', 'The endpoint was stopped while this request was at its worker; it may have been partly processed.', {
      endpointId,
    });
  }

  /** A request timed out at its worker: no new one goes there until it reports again; marked before the release, which hands queued requests out. */
  #stallIfTimedOut(err: unknown, endpointId: number, a: Assignment): void {
    if (err instanceof GantryError && err.code === 'WORKER_TIMEOUT') this.#traffic.stall(endpointId, a.worker.id);
  }

  #countFailed(err: unknown): void {
    this.#metrics.serverlessRequests.inc({ outcome: err instanceof GantryError ? err.code : 'INTERNAL' });
  }

  async #counted(name: string, resolve: () => Promise<ResolvedEndpoint>, r: ProxyRequest): Promise<ForwardResponse> {
    try {
      const res = await this.#proxy(name, resolve, r);
      // A caller gone before its worker's answer began is counted as left, as on the wire path.
      if (r.gone?.aborted === true) this.#metrics.serverlessRequests.inc({ outcome: 'CALLER_LEFT' });
      else this.#answered.inc();
      return res;
    } catch (err) {
      this.#countFailed(err);
      throw err;
    }
  }

  async #proxy(name: string, resolve: () => Promise<ResolvedEndpoint>, r: ProxyRequest): Promise<ForwardResponse> {
    const deadline = r.timeoutMs === undefined || r.timeoutMs === null ? null : new Deadline(r.timeoutMs);
    try {
      return await this.#attempts(name, resolve, r, deadline?.signal);
    } finally {
      deadline?.clear();
    }
  }

  async #attempts(name: string, resolve: () => Promise<ResolvedEndpoint>, r: ProxyRequest, deadline: AbortSignal | undefined): Promise<ForwardResponse> {
    const resolved = await resolve();
    if (!accepts(resolved)) throw stoppedEndpoint(name);
    const endpoint = resolved.endpoint;
    for (let attempt = 1; ; attempt++) {
      const waitFrom = performance.now();
      const a = await this.#traffic.acquire(endpoint.id, r.cost, deadline, r.gone);
      const sentAt = performance.now();
      this.#metrics.serverlessQueueWait.observe((sentAt - waitFrom) / 1000);
      const auth = this.#grant(a.worker, r.cost, name);
      // The deadline runs until the worker's answer begins (then `#proxy` clears it).
      const unfollow = deadline === undefined ? null : a.signal.follow(deadline);
      try {
        const res = await this.#pools.forward(a.worker.url, {
          method: r.method,
          path: r.path,
          headers: r.headers,
          body: r.body,
          contentLength: r.contentLength,
          signal: a.signal,
          extra: workerHeaders(auth),
        });
        const outcome = res.status < 400 ? 'answered' : 'error';
        res.body.once('close', () => a.release(true, outcome === 'answered' ? { kind: outcome, ms: performance.now() - sentAt } : { kind: outcome }));
        return res;
      } catch (err) {
        // Refused before anything was sent (the worker just died or is not listening yet): safe to try another.
        if (wasNotSent(err) && attempt < CONNECT_ATTEMPTS) {
          a.release();
          this.#traffic.fence(endpoint.id, a.worker.id);
          continue;
        }
        this.#stallIfTimedOut(err, endpoint.id, a);
        a.release(false, { kind: endedBy(err) });
        if (wasNotSent(err)) throw this.#byStop(noWorkerAccepted(name), endpoint.id);
        throw this.#byStop(err, endpoint.id);
      } finally {
        unfollow?.();
      }
    }
  }

  async close(): Promise<void> {
    this.#traffic.shutdown();
    this.wire.close();
    await this.#pools.close();
  }
}

/** Failures at a worker counted as timeouts: its own, the caller's deadline, and a stop's drain deadline (which aborts it). */
const TIMEOUTS = new Set(['WORKER_TIMEOUT', 'INFERENCE_TIMEOUT', 'ENDPOINT_STOPPED']);

function endedBy(err: unknown): 'timeout' | 'error' {
  return err instanceof GantryError && TIMEOUTS.has(err.code) ? 'timeout' : 'error';
}

/** A request's deadline: aborts its signal with INFERENCE_TIMEOUT when it passes. */
class Deadline {
  readonly #ac = new AbortController();
  readonly #timer: NodeJS.Timeout;

  constructor(ms: number) {
    if (!Number.isFinite(ms) || ms < 0)
      throw new GantryError('INVALID_ARGUMENT', `'timeout' must be a duration of 0 or more, got ${String(ms)} ms.`, { field: 'timeout' });
    const error = new GantryError('INFERENCE_TIMEOUT', `No worker answered within the request's timeout of ${ms / 1000}s.`, { timeoutMs: ms });
    // Under a millisecond (`timeout=1nanos`) it has passed before any worker is asked: a timer would fire only after
    // the timers' 1 ms resolution, and a worker on loopback can answer sooner.
    if (ms < 1) this.#ac.abort(error);
    this.#timer = setTimeout(() => this.#ac.abort(error), ms);
    this.#timer.unref();
  }

  get signal(): AbortSignal {
    return this.#ac.signal;
  }

  clear(): void {
    clearTimeout(this.#timer);
  }
}

/** Whether the endpoint (or, for a route to another, the one routed through) takes requests. */
const accepts = (r: ResolvedEndpoint): boolean => r.via === null || acceptsTraffic(r.via);

const stoppedEndpoint = (name: string): GantryError => new GantryError('ENDPOINT_STOPPED', `Endpoint '${name}' is stopped; start it and try again.`);

const noWorkerAccepted = (name: string): GantryError =>
  new GantryError('WORKER_FAILED', `No worker of '${name}' accepted the connection; the request was not processed.`);

/** What Gantry tells the worker of a request it forwards: the signed hand-out, its cost, the endpoint (the wire path writes the same as lines: `#wireHeaders`). */
function workerHeaders(auth: RouteGrant): Record<string, string> {
  return {
    'x-gantry-url': auth.url,
    'x-gantry-signature': auth.signature,
    'x-gantry-reqnum': String(auth.reqnum),
    'x-gantry-cost': String(auth.cost),
    'x-gantry-endpoint': auth.endpoint,
  };
}
