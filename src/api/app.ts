import Fastify, { LogController, type FastifyBaseLogger, type FastifyInstance } from 'fastify';
import type { Logger } from 'pino';
import type { ControlPlane } from '../control/control-plane.js';
import { GantryError } from '../domain/errors.js';
import type { Metrics } from '../log/metrics.js';
import type { Gateway } from '../gateway/gateway.js';
import { agentProtocol } from './agent/plugin.js';
import { vastDialect } from './dialects/vast/plugin.js';
import type { RateLimitOptions } from './rate-limit/hook.js';

export interface AppOptions {
  readonly control: ControlPlane;
  readonly gateway: Gateway;
  readonly log: Logger;
  readonly metrics: Metrics;
  readonly publicUrl: string | null;
  /** Token buckets per key and endpoint family; null: no limits. */
  readonly rateLimit: RateLimitOptions | null;
  /** Largest accepted request body. */
  readonly bodyLimitBytes?: number;
}

const ROUTES = new WeakMap<FastifyInstance, readonly { method: string; url: string }[]>();

/** The routes an app built by buildApp serves (method and URL pattern). */
export function routesOf(app: FastifyInstance): readonly { method: string; url: string }[] {
  return ROUTES.get(app) ?? [];
}

/** Build the HTTP app (never listens: `src/main` does, tests use port 0). */
export async function buildApp(o: AppOptions): Promise<FastifyInstance> {
  const app = Fastify({
    // Typed as fastify's base logger so the app keeps the default FastifyInstance type.
    // eslint-disable-next-line @typescript-eslint/no-unnecessary-type-assertion
    loggerInstance: o.log.child({ component: 'http' }) as FastifyBaseLogger,
    // One line per request is noise at info level; errors and transitions are logged where they happen.
    logController: new LogController({ disableRequestLogging: true }),
    bodyLimit: o.bodyLimitBytes ?? 1024 * 1024,
    routerOptions: { ignoreTrailingSlash: true, ignoreDuplicateSlashes: true },
    return503OnClosing: true,
  });

  // Real clients send an empty body with Content-Type: application/json (fastify rejects that by
  // default), and some send a body with no JSON content type at all.
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

  app.addHook('onResponse', async (req, reply) => {
    const u = req.url;
    const serverless = u.startsWith('/endpoints/') || u.startsWith('/route') || u.startsWith('/worker_status') || u.startsWith('/get_');
    const dialect = serverless ? 'serverless' : u.startsWith('/api/') ? 'vast' : u.startsWith('/agent/') ? 'agent' : 'other';
    o.metrics.httpRequests.inc({ dialect, code: `${Math.floor(reply.statusCode / 100)}xx` });
    o.metrics.httpDuration.observe({ dialect }, reply.elapsedTime / 1000);
  });

  // Every route served, so tests can probe them all (the cross-tenant test) and docs can list them.
  const routes: { method: string; url: string }[] = [];
  app.addHook('onRoute', (r) => {
    for (const m of [r.method].flat()) if (m !== 'HEAD') routes.push({ method: m, url: r.url });
  });
  ROUTES.set(app, routes);

  app.get('/healthz', async () => ({ ok: true }));
  app.get('/metrics', async (_req, reply) => reply.type(o.metrics.registry.contentType).send(await o.metrics.registry.metrics()));
  await app.register(agentProtocol, { prefix: '/agent/v1', control: o.control });
  await app.register(vastDialect, { control: o.control, gateway: o.gateway, publicUrl: o.publicUrl, rateLimit: o.rateLimit });
  return app;
}
