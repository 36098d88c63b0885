import type { FastifyInstance, FastifyRequest } from 'fastify';
import type { ControlPlane } from '../../control/control-plane.js';
import type { Principal } from '../../control/principal.js';
import type { GantryError } from '../../domain/errors.js';
import type { Gateway } from '../../gateway/gateway.js';
import type { RateFamily } from '../rate-limit/families.js';
import type { DataRoute } from './data-path.js';

/**
 * What the edge does for one route, declared with the route (fastify's route `config.edge`) or by
 * the dialect's `routeConfig` table. Every field has a safe default: authenticated, audited when it
 * changes state, counted under the dialect's name, rate-limited in the `other` family (routes
 * without authentication: not limited unless they name a family).
 */
export interface RouteConfig {
  /** Authenticate before the handler runs (default true). Machine traffic with credentials of its own (worker tokens, endpoint keys, host tokens) sets false. */
  readonly auth?: boolean;
  /** The rate-limit family its requests draw from; null: not limited; absent: `other` (null when `auth` is false). */
  readonly family?: RateFamily | null;
  /** Write an audit record when it ends (default: every method but GET, HEAD and OPTIONS). */
  readonly audit?: boolean;
  /** The `dialect` label of its HTTP metrics (default: the dialect's name). */
  readonly label?: string;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    edge?: RouteConfig & { readonly dialect: string };
  }
}

/** What an error body may say of the request it answers (a framework request, or one the data path served). */
export type ErrorRequest = Pick<FastifyRequest, 'id' | 'url' | 'method'>;

/** What the edge hands a dialect's routes. */
export interface EdgeDeps {
  readonly control: ControlPlane;
  readonly gateway: Gateway;
  /** Base URL for links in answers; null: derived from the request. */
  readonly publicUrl: string | null;
}

/**
 * An API dialect: a prefix, a way to read credentials, an error body, and routes that only translate.
 * The edge (`mountDialect`) gives it authentication, the error handler (status from the error's
 * kind, Retry-After, log levels), its 404 shape, rate limits, audit and metrics; the use cases give
 * it authorization. A new dialect is a folder under src/api/dialects/ and one line in src/main.
 */
export interface ApiDialect {
  /** Short name: metrics label, logs. */
  readonly name: string;
  /** Path prefixes it serves; unknown paths under them get its 404 body. */
  readonly prefixes: readonly string[];
  /** The request's credential (rate-limit bucket, authentication); default: `Authorization: Bearer K` or `?api_key=K`. */
  credential?(req: FastifyRequest): string | null;
  /**
   * Whether `credential` may find the key in the parsed body (Vast's `api_key`). The edge authenticates
   * before reading the body; a request whose headers and query carry no key is then authenticated once
   * its body is parsed (within the app's bodyLimit).
   */
  readonly credentialInBody?: boolean;
  /** Credential → principal (default: an API key through the control plane). UNAUTHENTICATED when it cannot. */
  authenticate?(control: ControlPlane, credential: string | null, req: FastifyRequest): Promise<Principal>;
  /** The dialect's error body for an error and the status it is sent with. */
  errorBody(error: GantryError, status: number, req: ErrorRequest): unknown;
  /** The status an error is sent with, when the dialect's API uses another than its kind's (AI Core: 412 for a refused transition). */
  errorStatus?(error: GantryError, status: number): number;
  /** Headers on every reply of the dialect, errors and 404s under its prefixes included (Elasticsearch's `x-elastic-product`). */
  responseHeaders?(status: number): Readonly<Record<string, string | readonly string[]>>;
  /** Content type of error bodies (default application/json). */
  readonly errorContentType?: string;
  /** Body parsers of its routes (default: JSON, lenient about empty bodies and content types). */
  parsers?(app: FastifyInstance): void;
  /** Per-route edge settings from the dialect's own table; a route's `config.edge` wins. */
  routeConfig?(method: string, url: string): RouteConfig;
  /** Routes served before the framework (see DataRoute): the serverless proxy. Each must also exist as a framework route, which serves what `take` declines. */
  dataRoutes?(deps: EdgeDeps): readonly DataRoute[];
  /** Register the routes (and any hooks of its own) in its encapsulated context. */
  routes(app: FastifyInstance, deps: EdgeDeps): Promise<void> | void;
}
