import type { IncomingHttpHeaders, IncomingMessage, ServerResponse } from 'node:http';
import type { Readable } from 'node:stream';
import type { ControlPlane } from '../../../control/control-plane.js';
import { boundedMemo } from '../../../domain/bounded-memo.js';
import type { Abort } from '../../../gateway/abort.js';
import type { Gateway } from '../../../gateway/gateway.js';
import type { ForwardResponse } from '../../../gateway/proxy.js';
import { bearerOf } from '../../edge/api-key.js';
import { callerGone } from '../../edge/caller-gone.js';
import type { DataRoute } from '../../edge/data-path.js';
import { costOf, headerNumber } from './cost.js';

/** Answers of known length up to this size are read whole (much cheaper than piping); larger or unknown ones stream. */
export const SMALL_BODY_BYTES = 64 * 1024;
/** The longest endpoint name the data route takes (the framework's router bounds a path parameter the same way). */
const MAX_NAME = 100;

/** One call of `/endpoints/{name}/{path}`, as either server path read it. */
export interface EndpointCall {
  readonly name: string;
  /** The worker's path and query (the caller's `api_key` removed). */
  readonly path: string;
  readonly key: string | null;
  readonly method: string;
  readonly headers: IncomingHttpHeaders;
  /** The request stream when it has a body. */
  readonly body: IncomingMessage | null;
  /** Aborts when the caller left: see `ProxyRequest.gone`. */
  readonly gone: Abort;
}

/** Vast's serverless proxy: the call goes to a worker of the endpoint through the gateway. */
export function callEndpoint(control: ControlPlane, gateway: Gateway, c: EndpointCall): Promise<ForwardResponse> {
  return gateway.proxy(c.name, c.key, {
    method: c.method,
    path: c.path,
    headers: c.headers,
    body: c.body,
    contentLength: typeof c.headers['content-length'] === 'string' ? c.headers['content-length'] : null,
    cost: costOf(headerNumber(c.headers['x-gantry-cost']), control.ctx.settings.maxRequestCost, 'X-Gantry-Cost'),
    gone: c.gone,
  });
}

/** Whether the answer is small enough to read whole before sending it on. */
export function isSmall(res: ForwardResponse): boolean {
  return Number(res.headers['content-length'] ?? NaN) <= SMALL_BODY_BYTES;
}

/** Path and query for the worker, and the key when the caller put it in the query. */
export function workerPath(rest: string, query: string): { path: string; queryKey: string | null } {
  if (query === '' || !query.includes('api_key')) return { path: rest + query, queryKey: null };
  const params = new URLSearchParams(query);
  const key = params.get('api_key');
  params.delete('api_key');
  const left = params.toString();
  return { path: rest + (left === '' ? '' : `?${left}`), queryKey: key === '' ? null : key };
}

const SIMPLE = /^\/endpoints\/([^/?#]+)(\/[^?#]*)?(\?[^#]*)?$/;
const VISIBLE = /^[\x21-\x7e]+$/;

/** The endpoint's name, the worker's path and a key in the query, from a URL the data route serves in its fast form; else null. */
function simpleUrl(url: string): { name: string; path: string; queryKey: string | null } | null {
  if (url.includes('//')) return null;
  const m = SIMPLE.exec(url);
  if (m === null || (m[1] as string).length > MAX_NAME) return null;
  let name: string;
  try {
    name = decodeURIComponent(m[1] as string);
  } catch {
    return null;
  }
  return { name, ...workerPath(m[2] ?? '/', m[3] ?? '') };
}

/**
 * `/endpoints/*` on the data path: the same translation as the framework route, without the framework.
 * URLs with anything unusual (doubled slashes, a bad escape, a very long name) are left to the framework.
 */
/** URLs read lately: callers of an endpoint repeat a handful of paths, and reading one is a regex, an unescape and a query split. */
const seenUrl = boundedMemo(1_000, simpleUrl);

export function endpointDataRoute(control: ControlPlane, gateway: Gateway): DataRoute {
  return {
    prefix: '/endpoints/',
    label: 'serverless',
    wire(h, caller) {
      const url = seenUrl(h.target);
      // A name that is not plain visible text goes the full way (it becomes a header value for the worker).
      if (url === null || !VISIBLE.test(url.name)) return null;
      const key = bearerOf(h.authorization ?? undefined) ?? url.queryKey;
      const cost = costOf(headerNumber(h.cost ?? undefined), control.ctx.settings.maxRequestCost, 'X-Gantry-Cost');
      return gateway.forward(url.name, key, cost, url.path, caller);
    },
    take(target) {
      const url = simpleUrl(target);
      if (url === null) return null;
      const { name, path, queryKey } = url;
      return async (req, out) => {
        // A caller that leaves mid-upload fails the stream (undici then aborts the worker's request): not a crash.
        req.once('error', () => undefined);
        const hasBody =
          req.headers['transfer-encoding'] !== undefined || (req.headers['content-length'] !== undefined && req.headers['content-length'] !== '0');
        const key = bearerOf(req.headers.authorization) ?? queryKey;
        const res = await callEndpoint(control, gateway, {
          name,
          path,
          key,
          method: req.method ?? 'GET',
          headers: req.headers,
          body: hasBody ? req : null,
          gone: callerGone(out),
        });
        if (out.destroyed) {
          discard(res.body); // the caller left while it waited: let the worker's answer go, and its slot with it
          return;
        }
        if (isSmall(res)) {
          const body = Buffer.from(await res.body.arrayBuffer());
          out.writeHead(res.status, res.headers).end(body);
          return;
        }
        out.writeHead(res.status, res.headers);
        await relay(res.body, out);
      };
    },
  };
}

/**
 * Pass a streamed answer on as it arrives (with backpressure). Not `stream.pipeline`: it builds an
 * AbortController and a DOMException per call, a measurable share of a proxied request. Rejects when
 * the worker's stream fails (the edge then cuts the half-sent answer); a client that left ends it.
 */
function relay(body: Readable, out: ServerResponse): Promise<void> {
  return new Promise((resolve, reject) => {
    if (out.destroyed) {
      discard(body);
      resolve();
      return;
    }
    body.once('error', reject);
    body.once('end', () => resolve());
    out.once('close', () => {
      if (out.writableFinished) return;
      discard(body);
      resolve();
    });
    body.pipe(out);
  });
}

/** Drop a worker's answer nobody will read: undici's body reports its own abort as an error, expected here. */
function discard(body: Readable): void {
  body.once('error', () => undefined);
  body.destroy();
}
