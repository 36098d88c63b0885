import AjvCompiler from '@fastify/ajv-compiler';
import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance, type FastifyReply, type FastifyRequest } from 'fastify';
import type { Logger } from 'pino';
import type { ControlPlane } from '../control/control-plane.js';
import { GantryError } from '../domain/errors.js';
import type { Metrics } from '../log/metrics.js';
import type { Gateway } from '../gateway/gateway.js';
import type { ApiDialect } from './edge/dialect.js';
import { toGantryError } from './errors.js';
import { AllowedMethods } from './edge/allowed-methods.js';
import { dialectFor, exactContentTypes, lenientJson, mountDialect, sendError } from './edge/mount.js';
import { boundJsonDepth } from './edge/json-body.js';
import { dataPathServer } from './edge/data-path.js';
import { clientErrorHandler } from './edge/client-error.js';
import type { RateLimitOptions } from './edge/rate-limit.js';
import { registerDiscovery } from './edge/openapi.js';
import { checkMetricsAccess, type MetricsAccess } from './edge/metrics-access.js';
import { defaultConsoleDir, registerConsoleStatic } from './edge/console-static.js';

export interface AppOptions {
  readonly control: ControlPlane;
  readonly gateway: Gateway;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly publicUrl: string | null;
  /** Token buckets per key and endpoint family; null: no limits. */
  readonly rateLimit: RateLimitOptions | null;
  /** Serve the data routes' plain requests on the wire path (default true; see WirePath). */
  readonly wirePath?: boolean;
  /** The API dialects to serve (src/main picks them); the first answers paths no dialect claims. */
  readonly dialects: readonly ApiDialect[];
  /** Largest accepted request body. */
  readonly bodyLimitBytes?: number;
  /** Who may read GET /metrics (default: callers on loopback, or with an admin key). */
  readonly metricsAccess?: MetricsAccess;
  /** The built web console served at /console/ (default: this package's dist/web). */
  readonly consoleDir?: string;
}

const ROUTES = new WeakMap<FastifyInstance, readonly { method: string; url: string }[]>();

/** The routes an app built by buildApp serves (method and URL pattern). */
export function routesOf(app: FastifyInstance): readonly { method: string; url: string }[] {
  return ROUTES.get(app) ?? [];
}

/**
 * fastify's validator compiler, one for the process: each app would otherwise make its own Ajv (and compile
 * its meta-schema and every route's schemas again), a large share of starting a server. Validators are
 * pure functions of their schema; apps with other shared schemas or JSON options get a compiler of their own.
 * Given this way, fastify takes it for a custom compiler and no longer lower-cases the header names of a route's
 * `headers` schema: no route has one; one added must name its headers in lower case.
 */
const VALIDATORS = AjvCompiler();

/** Build the HTTP app (never listens: `src/main` does, tests use port 0). */
export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const log = o.log.child({ component: 'http' });
  const deps = { control: o.control, gateway: o.gateway, publicUrl: o.publicUrl };
  // The serverless proxy's requests are served before the framework (see DataRoute); the rest by fastify.
  const data = dataPathServer(o.dialects, deps, {
    meter: (label) => httpMeter(o.metrics, label),
    log,
    wire: o.wirePath === false ? undefined : o.gateway.wire,
  });
  const app = Fastify({
    serverFactory: data.factory,
    // Typed as fastify's base logger so the app keeps the default FastifyInstance type.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: log as FastifyBaseLogger,
    // One line per request is noise at info level; errors and transitions are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimitBytes ?? 1024 * 1024,
    // Path ids as long as a dialect allows (AI Core's resource groups take 253 characters; fastify's default is 100).
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true, maxParamLength: 512 },
    // Requests that reach the framework while it closes are refused by the onRequest hook below, in the dialect's
    // shape and with the headers every answer carries (fastify's own 503 has neither).
    return503OnClosing: false,
    // What Node's parser refuses (a head over its limit, a malformed request) in the dialect's shape too.
    clientErrorHandler: clientErrorHandler(o.dialects, log),
    // A route's schema that forbids extra fields means a 400 for them, not fastify's silent removal.
    ajv: { customOptions: { removeAdditional: false } },
    schemaController: { compilersFactory: { buildValidator: VALIDATORS } },
    // A URL the router refuses (bad percent-encoding, a path segment over maxParamLength) is the caller's error, in its dialect's shape.
    frameworkErrors: (err, req, reply) => {
      void answerAsDialect(
        new GantryError('INVALID_ARGUMENT', `The URL is malformed or a part of its path is too long (${err.code}).`, { field: 'path' }),
        req,
        reply,
      );
    },
  });

  let closing = false;
  app.addHook('preClose', async () => {
    closing = true;
    data.closing();
  });
  app.addHook('onSend', exactContentTypes(o.dialects));
  // Each label's children bound once, not looked up by a label object per request.
  const meters = new Map<string, ReturnType<typeof httpMeter>>();
  const meter = (req: FastifyRequest, status: number, seconds: number): void => {
    const edge = req.routeOptions.config.edge;
    const dialect = edge?.label ?? edge?.dialect ?? 'other';
    let m = meters.get(dialect);
    if (m === undefined) meters.set(dialect, (m = httpMeter(o.metrics, dialect)));
    m(status, seconds);
  };
  app.addHook('onResponse', async (req, reply) => {
    if (reply.raw.writableFinished) meter(req, reply.statusCode, reply.elapsedTime / 1000);
  });
  // An answer not written whole (the caller left first) is 499, as on the data and wire paths: fastify
  // runs no onResponse for it (nor onRequestAbort once the request was read), so the response's close says it.
  // No answer is read as another type than it says (a log's raw text is never a page of this origin): nosniff.
  app.addHook('onRequest', (req, reply, done) => {
    void reply.header('x-content-type-options', 'nosniff');
    reply.raw.once('close', () => {
      if (!reply.raw.writableFinished) meter(req, 499, reply.elapsedTime / 1000);
    });
    // A request on a connection kept alive past the close's start (fastify has set `Connection: close` on it).
    if (closing) return void answerAsDialect(new GantryError('SHUTTING_DOWN', 'This server is shutting down; try again.'), req, reply);
    done();
  });

  // Every route served, so tests can probe them all (the cross-tenant test) and docs can list them.
  const routes: { method: string; url: string }[] = [];
  const allowed = new AllowedMethods();
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) {
      if (m !== 'HEAD') routes.push({ method: m, url: r.url });
      allowed.add(m, r.url);
    }
  });
  ROUTES.set(app, routes);

  // Outside every dialect (no route matched): one 404 handler and one error handler for the app,
  // answering in the shape of the dialect whose prefix the path falls under.
  const answerAsDialect = (err: unknown, req: FastifyRequest, reply: FastifyReply): FastifyReply => {
    const d = dialectFor(o.dialects, req.url.split('?')[0] ?? '');
    if (d !== undefined) return sendError(d, err, req, reply);
    const { error, status } = toGantryError(err, req.id);
    return reply.code(status).send({ error: { code: error.code, message: error.message } });
  };
  lenientJson(app);
  app.setErrorHandler(answerAsDialect);
  app.setNotFoundHandler((req, reply) => {
    const path = req.url.split('?')[0] ?? '';
    // A known path asked with another method is 405 with the methods it takes, as the real servers answer.
    const allow = allowed.of(path);
    // OPTIONS on a served path says what it takes (as Elasticsearch does), rather than refusing.
    if (allow.length > 0 && req.method === 'OPTIONS') return reply.code(200).header('allow', allow.join(', ')).send();
    if (allow.length > 0 && !allow.includes(req.method))
      return answerAsDialect(
        new GantryError('METHOD_NOT_ALLOWED', `${req.method} is not served on ${path}; it takes ${allow.join(', ')}.`, { allow }),
        req,
        reply,
      );
    return answerAsDialect(new GantryError('NOT_FOUND', `No route ${req.method} ${path}.`), req, reply);
  });

  // Before any route is added, so the OpenAPI document sees them all.
  await registerDiscovery(app, o.dialects);
  app.get('/healthz', async () => ({ ok: true }));
  app.get('/metrics', async (req, reply) => {
    await checkMetricsAccess(o.metricsAccess ?? 'loopback', o.control, req);
    return reply.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics());
  });
  registerConsoleStatic(app, o.consoleDir ?? defaultConsoleDir());
  // Before the dialects mount, so every route of every dialect inherits it.
  app.addHook('preValidation', boundJsonDepth(o.control.ctx.settings.maxJsonDepth));
  for (const d of o.dialects) await mountDialect(app, d, deps, { rateLimit: o.rateLimit });
  return app;
}

/** The HTTP metrics of one label with its children bound once (the data path's meter). */
function httpMeter(m: Metrics, dialect: string): (status: number, seconds: number) => void {
  const byClass = [1, 2, 3, 4, 5].map((c) => m.httpRequests.labels({ dialect, code: `${c}xx` }));
  const duration = m.httpDuration.labels({ dialect });
  return (status, seconds) => {
    byClass[Math.min(4, Math.max(0, Math.floor(status / 100) - 1))]?.inc();
    duration.observe(seconds);
  };
}
