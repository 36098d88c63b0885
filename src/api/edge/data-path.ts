import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { FastifyBaseLogger } from 'fastify';
import { GantryError } from '../../domain/errors.js';
import type { ApiDialect, EdgeDeps } from './dialect.js';
import type { WireCaller } from '../../gateway/gateway.js';
import type { RequestHead } from '../../gateway/wire-http.js';
import type { WireUpstreams } from '../../gateway/wire-upstream.js';
import { noteRequest } from './client-error.js';
import { renderError } from './mount.js';
import { WirePath, type WireCall, type WireRoute } from './wire-path.js';

/**
 * A route of the data plane, served on Node's HTTP server before the framework: no routing table, no
 * hooks, no reply object. For the requests whose every microsecond is the product's (the serverless
 * proxy), it costs a prefix test, the handler and one metric. `take` looks at the URL only: it answers
 * null for a URL it does not serve in this fast form (the framework then serves it, with the same
 * translation, so odd URLs keep their full handling), or the function that serves the request. That
 * function answers the request or throws; the edge renders what it throws in the dialect's error body.
 */
export interface DataRoute {
  /** Path prefix, e.g. `/endpoints/`. */
  readonly prefix: string;
  /** The `dialect` label of its HTTP metrics. */
  readonly label: string;
  take(url: string): ((req: IncomingMessage, res: ServerResponse) => Promise<void>) | null;
  /**
   * The same request read on the wire path (see WirePath): what to forward, or null for Node's server
   * (then `take` serves it). Throws, or rejects, with what the caller is answered; a request that waits
   * gives up when `caller.gone` aborts.
   */
  wire?(h: RequestHead, caller: WireCaller): WireCall | Promise<WireCall> | null;
}

type Handler = (req: IncomingMessage, res: ServerResponse) => void;
/** What fastify sets on the server it creates itself; a server factory's server must get them too. */
type ServerTimeouts = { readonly keepAliveTimeout?: number; readonly requestTimeout?: number; readonly connectionTimeout?: number };

/**
 * The HTTP server (fastify's `serverFactory`): data routes first, the framework for everything else.
 * `closing()` answers the data routes' new requests 503 from then on, as the framework does its own.
 */
export function dataPathServer(
  dialects: readonly ApiDialect[],
  deps: EdgeDeps,
  o: {
    /** The meter of one label's requests, bound once: a labelled metric's lookup per request is measurable at proxy rates. */
    meter: (label: string) => (status: number, seconds: number) => void;
    log: FastifyBaseLogger;
    /** Connections to workers for the wire path; absent: every request goes through Node's HTTP server. */
    wire?: WireUpstreams;
  },
): { factory: (framework: Handler, opts: ServerTimeouts) => Server; closing(): void } {
  let wire: WirePath | null = null;
  const routes = dialects.flatMap((d) => (d.dataRoutes?.(deps) ?? []).map((route) => ({ route, dialect: d })));
  let closing = false;
  const meters = new Map<string, (status: number, seconds: number) => void>();
  const meterOf = (label: string) => {
    let m = meters.get(label);
    if (m === undefined) meters.set(label, (m = o.meter(label)));
    return m;
  };
  const serve = (r: (typeof routes)[number], run: (req: IncomingMessage, res: ServerResponse) => Promise<void>, req: IncomingMessage, res: ServerResponse) => {
    const started = performance.now();
    const meter = meterOf(r.route.label);
    // An answer not written whole (the caller left) is 499, as on the wire path.
    res.once('close', () => meter(res.writableFinished ? res.statusCode : 499, (performance.now() - started) / 1000));
    const answer = closing ? Promise.reject(new GantryError('SHUTTING_DOWN', 'This server is shutting down; try again.')) : run(req, res);
    answer.catch((err: unknown) => {
      const id = `data-${randomUUID()}`;
      const e = renderError(r.dialect, err, { id, url: req.url ?? '/', method: req.method ?? 'GET' }, o.log.child({ reqId: id }));
      if (res.headersSent) {
        res.destroy(); // the answer had begun: cut it, so the client sees a broken response, not a truncated one
        return;
      }
      // The request body may be unread (an error before forwarding): read and drop it so the connection stays usable.
      req.resume();
      res.writeHead(e.status, e.headers as Record<string, string | string[]>).end(JSON.stringify(e.body));
    });
  };
  return {
    closing: () => {
      closing = true;
      wire?.close();
    },
    factory: (framework, opts) => {
      const server = createServer((req, res) => {
        noteRequest(req, res);
        const url = req.url ?? '/';
        for (const r of routes) {
          if (!url.startsWith(r.route.prefix)) continue;
          const run = r.route.take(url);
          if (run !== null) return serve(r, run, req, res);
        }
        framework(req, res);
      });
      if (opts.keepAliveTimeout !== undefined) server.keepAliveTimeout = opts.keepAliveTimeout;
      if (opts.requestTimeout !== undefined) server.requestTimeout = opts.requestTimeout;
      server.setTimeout(opts.connectionTimeout ?? 0);
      const wired = routes.flatMap(({ route, dialect }): WireRoute[] => {
        const take = route.wire?.bind(route);
        if (take === undefined) return [];
        return [
          {
            prefix: route.prefix,
            wire: take,
            meter: meterOf(route.label),
            render: (err, h) => {
              const id = `data-${randomUUID()}`;
              return renderError(dialect, err, { id, url: h.target, method: h.method }, o.log.child({ reqId: id }));
            },
          },
        ];
      });
      if (wired.length > 0 && o.wire !== undefined) {
        // Connections are read by the wire path first; what it does not take goes to Node's HTTP server.
        const http = server.listeners('connection') as ((s: Socket | Duplex) => void)[];
        server.removeAllListeners('connection');
        const path = new WirePath({
          routes: wired,
          upstreams: o.wire,
          keepAliveMs: opts.keepAliveTimeout ?? 5_000,
          firstRequestMs: () => server.headersTimeout,
          handOff: (s) => {
            for (const l of http) l.call(server, s);
          },
        });
        wire = path;
        server.on('connection', (s: Socket) => path.accept(s));
      }
      return server;
    },
  };
}
