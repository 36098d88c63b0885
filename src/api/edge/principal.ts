import type { FastifyRequest } from 'fastify';
import type { Principal } from '../../control/principal.js';

/** The principal each request authenticated as (handlers, and the audit record written when it ends). */
const principals = new WeakMap<FastifyRequest, Principal>();
/** The error code a request ended with, set by the edge's error handler. */
export const errorCodeOf = new WeakMap<FastifyRequest, string>();

export function setPrincipal(req: FastifyRequest, p: Principal): void {
  principals.set(req, p);
}

export function principalIf(req: FastifyRequest): Principal | undefined {
  return principals.get(req);
}

/**
 * The caller of an authenticated route. The edge authenticates before the handler runs, so this
 * only fails for a route declared `auth: false` — a bug in that route, reported as one.
 */
export function principal(req: FastifyRequest): Principal {
  const p = principals.get(req);
  if (p === undefined) throw new Error(`route ${req.routeOptions.url ?? req.url} reads a principal but is declared auth: false`);
  return p;
}
