import type { FastifyReply, FastifyRequest } from 'fastify';
import type { Principal } from '../control/principal.js';
import type { AuditEntry } from '../domain/account/records.js';

/** The principal each request authenticated as, for the audit record written when it ends. */
export const principalOf = new WeakMap<FastifyRequest, Principal>();
/** The error code a request ended with, set by the dialect's error handler. */
export const errorCodeOf = new WeakMap<FastifyRequest, string>();

/** Calls that read although they are not GETs, and machine traffic that is not a user's call. */
const NOT_AUDITED = /^\/(route|worker_status|get_endpoint_|get_workergroup_|endpoints\/)|^\/api\/v0\/(bundles|search\/asks|instances\/request_logs|results)/;

export function isStateChanging(method: string, path: string): boolean {
  return method !== 'GET' && method !== 'HEAD' && method !== 'OPTIONS' && !NOT_AUDITED.test(path);
}

/**
 * An onResponse hook: one audit row per state-changing call, whatever its result (who, what, when,
 * status). Writing it never fails the call; a failed write is logged.
 */
export function auditHook(record: (e: AuditEntry) => Promise<void>, now: () => number): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (req, reply) => {
    const path = req.url.split('?')[0] ?? req.url;
    if (!isStateChanging(req.method, path)) return;
    const p = principalOf.get(req);
    try {
      await record({
        at: now(),
        accountId: p?.accountId ?? null,
        actorId: p?.actorId ?? null,
        keyId: p?.keyId ?? null,
        method: req.method,
        path,
        route: req.routeOptions.url ?? path,
        statusCode: reply.statusCode,
        errorCode: errorCodeOf.get(req) ?? null,
        ip: req.ip,
        requestId: req.id,
      });
    } catch (err) {
      req.log.error({ err }, 'audit record failed');
    }
  };
}
