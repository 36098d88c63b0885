import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ApiDialect } from './dialect.js';

/** What each dialect is called in the document (its tag) and the credentials it really accepts. */
const DIALECT_DOCS: Readonly<Record<string, { tag: string; description: string; security: Record<string, string[]>[] }>> = {
  vast: {
    tag: 'Vast.ai',
    description: "Vast.ai's REST API (`/api/v0`, `/api/v1`) and its serverless routes (`/route/`, `/endpoints/`, `/get_…`, `/worker_status`).",
    security: [{ vastBearer: [] }, { vastApiKeyQuery: [] }],
  },
  aicore: {
    tag: 'SAP AI Core',
    description: "SAP AI Core's AI API (`/v2/lm`, `/v2/admin`), its inference URLs (`/v2/inference`) and the OAuth2 token endpoint (`/oauth/token`).",
    security: [{ aicoreOAuth: [] }, { aicoreBearer: [] }],
  },
  elastic: {
    tag: 'Elasticsearch',
    description: "Elasticsearch's trained-model API (`/_ml`), ingest pipelines (`/_ingest`) and the cluster root.",
    security: [{ elasticApiKey: [] }, { elasticBasic: [] }, { elasticBearer: [] }],
  },
  agent: { tag: 'Agent protocol', description: 'Host agents talk to the control plane here, with a host token (`gantry create host-token`).', security: [] },
};

const SERVER = { tag: 'Server', description: 'Health, metrics and this description of the API: no key needed (`/metrics`: see the `metricsAccess` setting).' };

/** Summaries of the routes outside every dialect (their schemas live in app.ts). */
const SERVER_SUMMARIES: Readonly<Record<string, string>> = {
  '/healthz': 'Liveness: answers {"ok":true} while the server runs',
  '/metrics': 'Prometheus metrics: HTTP requests and latency by dialect, reconciler steps, instance transitions, serverless requests and queue waits',
};

const SECURITY_SCHEMES = {
  vastBearer: {
    type: 'http',
    scheme: 'bearer',
    description: 'A Gantry API key: `Authorization: Bearer <key>` (or `api_key` in the JSON body, as Vast takes it).',
  },
  vastApiKeyQuery: { type: 'apiKey', in: 'query', name: 'api_key', description: 'A Gantry API key in the query string, as the vastai CLI sends it.' },
  aicoreOAuth: {
    type: 'oauth2',
    description: "An access token (a JWT) from `POST /oauth/token` with a service key's client credentials.",
    flows: { clientCredentials: { tokenUrl: '/oauth/token', scopes: {} } },
  },
  aicoreClient: {
    type: 'http',
    scheme: 'basic',
    description: "A service key's `clientid:clientsecret` (or `client_id` and `client_secret` in the form body).",
  },
  aicoreBearer: { type: 'http', scheme: 'bearer', bearerFormat: 'JWT', description: 'The access token from `/oauth/token`, or a Gantry API key (for curl).' },
  elasticApiKey: { type: 'apiKey', in: 'header', name: 'Authorization', description: '`ApiKey <Gantry key>` or `ApiKey base64(id:key)`.' },
  elasticBasic: { type: 'http', scheme: 'basic', description: 'Any user name, the Gantry key as the password.' },
  elasticBearer: { type: 'http', scheme: 'bearer', description: 'A Gantry key or an access token from `/oauth/token`.' },
} as const;

/**
 * Routes the edge does not authenticate that still check a credential of their own: the serverless
 * data path takes an endpoint's key or an account key as Vast's routes do; the token endpoint, a
 * service key's client credentials.
 */
function ownCredential(url: string): Record<string, string[]>[] | undefined {
  if (url === '/oauth/token') return [{ aicoreClient: [] }];
  return /^\/(route|endpoints\/)/.test(url) ? [{ vastBearer: [] }, { vastApiKeyQuery: [] }] : undefined;
}

/** The base paths a dialect serves, for the index (a prefix without its trailing slash). */
const basePaths = (d: ApiDialect): string[] => d.prefixes.map((p) => (p.length > 1 ? p.replace(/\/$/, '') : p));

/** The version in package.json, found upwards from this file (src/ under a test runner, dist/src/ when built). */
function packageVersion(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++, dir = dirname(dir)) {
    try {
      const pkg = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: string; version?: string };
      if (pkg.name === 'gantry' && typeof pkg.version === 'string') return pkg.version;
    } catch {
      // not here: one folder up
    }
  }
  return '0.0.0';
}

/** A request with a credential of any dialect (a header or `?api_key=`): Elasticsearch's `GET /` is its cluster info. */
const carriesCredential = (req: FastifyRequest): boolean => req.headers.authorization !== undefined || /[?&]api_key=/.test(req.url);

/**
 * API discovery: an OpenAPI 3.1 document of every route (`GET /openapi.json`), generated from the
 * route schemas as routes are added (so this runs before any dialect mounts), a reference page
 * served from local files (`GET /docs`: Gantry runs offline) and an index at `GET /`. Routes
 * without a schema are listed too, with their method, path, dialect tag and credentials.
 */
/**
 * The reference page's Content-Security-Policy. Swagger UI 5's files have no inline script; it writes one style
 * element of its own at run time, so inline styles are allowed (styles run no code).
 */
export const DOCS_CSP =
  "default-src 'self'; script-src 'self'; script-src-attr 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; font-src 'self' data:; " +
  "connect-src 'self'; object-src 'none'; base-uri 'self'; form-action 'self'; frame-ancestors 'none'";

export async function registerDiscovery(app: FastifyInstance, dialects: readonly ApiDialect[]): Promise<void> {
  const version = packageVersion();
  // A dialect without an entry above (a test's own) is still tagged and indexed, by its name.
  const docsOf = (name: string): { tag: string; description: string; security: Record<string, string[]>[] } =>
    DIALECT_DOCS[name] ?? { tag: name, description: `The ${name} dialect.`, security: [] };
  const mounted = dialects;
  await app.register(swagger, {
    openapi: {
      openapi: '3.1.0',
      info: {
        title: 'Gantry',
        version,
        description: 'A self-hosted GPU cloud. One engine, several API dialects: each tag below is one, answering in that API’s own shapes and errors.',
      },
      tags: [
        ...mounted.map((d) => ({ name: docsOf(d.name).tag, description: docsOf(d.name).description })),
        { name: SERVER.tag, description: SERVER.description },
      ],
      components: { securitySchemes: SECURITY_SCHEMES },
    },
    transform: ({ schema, url, route }) => {
      const dialect = route.config?.edge?.dialect;
      const docs = dialect !== undefined ? docsOf(dialect) : undefined;
      const own = (schema ?? {}) as Record<string, unknown>;
      const open = route.config?.edge?.auth === false || docs === undefined;
      // The reference page's own files stay listed (hide off): the document names every route served.
      const rest = { ...own };
      delete rest.hide;
      return {
        url,
        schema: {
          ...rest,
          summary:
            (own.summary as string | undefined) ??
            SERVER_SUMMARIES[url] ??
            (url === '/' ? 'Index of this server; with a credential, Elasticsearch cluster info' : url),
          tags: (own.tags as string[] | undefined) ?? [docs?.tag ?? SERVER.tag],
          // An empty list: no credential (worker tokens, host tokens, public routes carry their own, or none).
          security: ownCredential(url) ?? (open ? [] : docs.security),
        },
      };
    },
    // HTTP's QUERY method (the proxies pass every method through) has no field in OpenAPI 3.1: an extension holds it.
    transformObject: (documentObject) => {
      if (!('openapiObject' in documentObject)) return documentObject.swaggerObject;
      const { openapiObject } = documentObject;
      for (const item of Object.values(openapiObject.paths ?? {}) as Record<string, unknown>[]) {
        if (item.query === undefined) continue;
        item['x-query'] = item.query;
        delete item.query;
      }
      return openapiObject;
    },
  });
  // Under the default `/docs` prefix, with its assets from the package (no CDN). The page runs on the console's origin
  // and its "Authorize" keeps a key in the page: it runs only its own files, fetches only this origin, and is framed by
  // no other page (the package's own policy also allows https: styles and fonts, an outside image host, and upgrades
  // every request to https, which a plain-HTTP server on loopback does not serve).
  await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { docExpansion: 'none', deepLinking: true }, staticCSP: DOCS_CSP });
  app.get('/openapi.json', { schema: { summary: 'This OpenAPI document', tags: [SERVER.tag] } }, () => app.swagger());

  const index = (): Record<string, unknown> => ({
    name: 'gantry',
    version,
    links: { console: '/console/', docs: '/docs', openapi: '/openapi.json', healthz: '/healthz', metrics: '/metrics' },
    dialects: Object.fromEntries(mounted.map((d) => [d.name, { title: docsOf(d.name).tag, basePaths: basePaths(d) }])),
  });
  // `GET /` is Elasticsearch's cluster info where that dialect is mounted; it needs a credential, so a
  // request without one (a browser, a curl) gets the index instead. Root hooks run before any route's.
  // A browser (asking for HTML) is sent on to the web console.
  app.addHook('onRequest', async (req, reply) => {
    if ((req.method !== 'GET' && req.method !== 'HEAD') || req.url.split('?')[0] !== '/' || carriesCredential(req)) return;
    if ((req.headers.accept ?? '').includes('text/html')) await reply.redirect('/console/', 302);
    else await reply.send(index());
  });
}
