import type { FastifyBaseLogger, FastifyInstance, FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../../control/principal.js';
import { ERROR_CODES, GantryError } from '../../domain/errors.js';
import type { CodeSpec } from '../../domain/error-spec.js';
import { toGantryError } from '../errors.js';
import { apiKeyOf } from './api-key.js';
import { auditHook, rememberCallerIp } from './audit.js';
import type { ApiDialect, EdgeDeps, ErrorRequest, RouteConfig } from './dialect.js';
import { errorCodeOf, principalIf, setPrincipal } from './principal.js';
import { rateLimitHook, type RateLimitOptions } from './rate-limit.js';

export interface EdgeOptions {
  /** Token buckets per credential and family; null: no limits. */
  readonly rateLimit: RateLimitOptions | null;
}

/**
 * JSON bodies, as real clients send them: an empty body with a JSON content type (fastify refuses
 * that by default) is no body, and a body without a JSON content type is still read as JSON.
 */
export function lenientJson(app: FastifyInstance): void {
  app.removeAllContentTypeParsers();
  app.addContentTypeParser('*', { parseAs: 'string' }, (_req, body, done) => {
    const text = typeof body === 'string' ? body : body.toString('utf8');
    if (text.trim() === '') return done(null, undefined);
    try {
      done(null, JSON.parse(text));
    } catch {
      done(new GantryError('INVALID_JSON', 'The request body is not valid JSON.'), undefined);
    }
  });
}

/**
 * An onSend hook for the whole app: a reply of a dialect's content type goes out with exactly that
 * type, without the charset fastify appends to JSON types (Vast's CLI compares the string), and with
 * the dialect's own response headers. It runs at the root because 404s are answered outside every
 * dialect's context.
 */
export function exactContentTypes(dialects: readonly ApiDialect[]): (req: FastifyRequest, reply: FastifyReply, payload: unknown) => Promise<unknown> {
  const byName = new Map(dialects.map((d) => [d.name, d]));
  return async (req, reply, payload) => {
    const name = req.routeOptions.config.edge?.dialect;
    // No route matched (a 404): the dialect the path falls under answered it.
    const d = name !== undefined ? byName.get(name) : req.routeOptions.url === undefined ? dialectFor(dialects, req.url.split('?')[0] ?? '') : undefined;
    if (d !== undefined) dialectHeaders(d, reply, reply.statusCode);
    const exact = d === undefined ? undefined : (d.errorContentType ?? 'application/json');
    const ct = reply.getHeader('content-type');
    if (exact !== undefined && typeof ct === 'string' && ct.startsWith(`${exact};`)) void reply.header('content-type', exact);
    return payload;
  };
}

function dialectHeaders(d: ApiDialect, reply: FastifyReply, status: number): void {
  if (d.responseHeaders === undefined) return;
  for (const [k, v] of Object.entries(d.responseHeaders(status))) void reply.header(k, typeof v === 'string' ? v : [...v]);
}

/** What an error is answered with in a dialect: its status, headers and body. */
export interface RenderedError {
  readonly error: GantryError;
  readonly status: number;
  readonly headers: Readonly<Record<string, string | readonly string[]>>;
  readonly body: unknown;
}

/**
 * Any error, in the dialect's body, with the status of its kind and Retry-After where trying again
 * helps; logged at the level its kind deserves. Shared by the framework's error handler and the data path.
 */
export function renderError(d: ApiDialect, err: unknown, req: ErrorRequest, log: FastifyBaseLogger): RenderedError {
  const known = toGantryError(err, req.id);
  const error = known.error;
  const status = d.errorStatus !== undefined ? d.errorStatus(error, known.status) : known.status;
  // Only faults are errors; a busy queue answering 503/504 is a warning; a code may say its own level (error-codes.ts).
  const level = (ERROR_CODES[error.code] as CodeSpec).log;
  if (error.kind === 'internal') log.error({ err, dialect: d.name }, 'request failed');
  else log[level ?? (status >= 500 ? 'warn' : 'info')]({ code: error.code, status, dialect: d.name }, error.message);
  const headers: Record<string, string | readonly string[]> = {
    ...d.responseHeaders?.(status),
    'content-type': d.errorContentType ?? 'application/json',
    // Also on the paths without the framework's hooks (app.ts sets it on the rest): the data and wire paths, a refused URL.
    'x-content-type-options': 'nosniff',
  };
  // A refusal that knows when to come back (a rate limit, a server reading its most large bodies) says so; transient
  // 5xx (no worker in time, a worker that failed, a host away) say when to try again; a stopped endpoint does not.
  if (error.code === 'RATE_LIMITED' || (error.kind === 'rate_limited' && typeof error.details.retryAfter === 'number'))
    headers['retry-after'] = String(typeof error.details.retryAfter === 'number' ? error.details.retryAfter : 1);
  else if (error.retryable && status >= 502 && error.code !== 'ENDPOINT_STOPPED') headers['retry-after'] = '1';
  if (error.code === 'METHOD_NOT_ALLOWED' && Array.isArray(error.details.allow)) headers.allow = error.details.allow.join(', ');
  return { error, status, headers, body: d.errorBody(error, status, req) };
}

/** Any error, answered through the framework (see renderError). */
export function sendError(d: ApiDialect, err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply {
  const r = renderError(d, err, req, req.log);
  errorCodeOf.set(req, r.error.code);
  // All headers here too, not only in the onSend hook: fastify answers a URL its router refused without running hooks.
  for (const [k, v] of Object.entries(r.headers)) void reply.header(k, typeof v === 'string' ? v : [...v]);
  return reply.code(r.status).send(r.body);
}

/**
 * Mount one dialect in its own encapsulated context: its parsers, its route settings, rate limits,
 * authentication before the body is read (unless a route opts out), audit when a call ends, and its
 * error handler. The routes themselves only translate.
 */
export async function mountDialect(app: FastifyInstance, d: ApiDialect, deps: EdgeDeps, o: EdgeOptions): Promise<void> {
  const credential = (req: FastifyRequest): string | null => (d.credential !== undefined ? d.credential(req) : apiKeyOf(req));
  const authenticate = (req: FastifyRequest): Promise<Principal> =>
    d.authenticate !== undefined ? d.authenticate(deps.control, credential(req), req) : deps.control.authenticate(credential(req));
  await app.register(async (ctx) => {
    ctx.addHook('onRoute', (r) => {
      const method = [r.method].flat()[0] ?? 'GET';
      const own = (r.config as { edge?: RouteConfig } | undefined)?.edge;
      const edge = { ...d.routeConfig?.(method, r.url), ...own };
      // Limited unless said otherwise: a caller with a key draws from the "other" family by default.
      const family = edge.family !== undefined ? edge.family : edge.auth === false ? null : 'other';
      r.config = { ...r.config, edge: { ...edge, family, dialect: d.name } };
    });
    (d.parsers ?? lenientJson)(ctx);
    const limits = o.rateLimit !== null ? rateLimitHook(o.rateLimit, credential) : null;
    if (limits !== null) ctx.addHook('onRequest', limits.onRequest);
    const authenticated = async (req: FastifyRequest): Promise<void> => {
      let p: Principal;
      try {
        p = await authenticate(req);
      } catch (err) {
        // A refused credential (not a failing database) loses its own bucket: its next requests draw from the address's.
        if (err instanceof GantryError && err.kind === 'unauthenticated') limits?.failed(req);
        throw err;
      }
      limits?.passed(req);
      setPrincipal(req, p);
    };
    // Authentication runs in preParsing: after every onRequest hook (the rate limit has charged the
    // caller, the caller's address is kept for audit, the dialect's own headers are set, so a 401
    // carries them) and before the body is read, so a caller without a valid credential cannot make
    // the server read and parse a large body (fastify runs preValidation only after parsing). Unknown
    // paths never get here: the app's 404 handler answers them. Credentials come from headers and the
    // query string, both parsed by now.
    ctx.addHook('preParsing', async (req) => {
      if (req.routeOptions.config.edge?.auth === false) return;
      // A dialect that reads a key from the body (Vast's api_key) authenticates a request whose headers and query carry none after parsing, below.
      if (d.credentialInBody === true && credential(req) === null) return;
      await authenticated(req);
    });
    // Before schema validation, so a caller without a key learns nothing of a route's input rules.
    ctx.addHook('preValidation', async (req) => {
      if (req.routeOptions.config.edge?.auth === false || principalIf(req) !== undefined) return;
      await authenticated(req);
    });
    ctx.addHook('onRequest', rememberCallerIp);
    ctx.addHook(
      'onResponse',
      auditHook(deps.control.accounts.audit.recordAudit, () => deps.control.now()),
    );
    ctx.setErrorHandler((err, req, reply) => sendError(d, err, req, reply));
    await d.routes(ctx, deps);
  });
}

/** The dialect whose prefix (the longest that matches) a path falls under; the first dialect otherwise. */
export function dialectFor(dialects: readonly ApiDialect[], path: string): ApiDialect | undefined {
  let best: { d: ApiDialect; len: number } | undefined;
  for (const d of dialects) for (const p of d.prefixes) if (path.startsWith(p) && p.length > (best?.len ?? -1)) best = { d, len: p.length };
  return best?.d ?? dialects[0];
}
