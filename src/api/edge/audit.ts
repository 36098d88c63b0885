import type { FastifyReply, FastifyRequest } from 'fastify';
import type { AuditEntry } from '../../domain/account/records.js';
import { errorCodeOf, principalIf } from './principal.js';

const READS = new Set(['GET', 'HEAD', 'OPTIONS']);
/** The stored path's length at most (a route's parameters may be 512 characters long): the rest is cut. */
const PATH_CHARS = 256;

/**
 * The caller's address, read when the request arrives: by the time the response has been sent the
 * client may have closed the socket, and Node then reports no remote address (`req.ip` undefined).
 */
const callerIp = new WeakMap<FastifyRequest, string>();

/** An onRequest hook that keeps the caller's address for the audit row. */
export async function rememberCallerIp(req: FastifyRequest): Promise<void> {
  if (isAudited(req)) callerIp.set(req, req.ip ?? 'unknown');
}

/** Whether a request is audited: its route's `audit` setting, else whether its method changes state. */
export function isAudited(req: FastifyRequest): boolean {
  return req.routeOptions.config.edge?.audit ?? !READS.has(req.method);
}

/**
 * An onResponse hook: one audit row per audited call, whatever its result (who, what, when,
 * status). Writing it never fails the call; a failed write is logged. A call refused before its caller
 * was known (no valid key: 401), or held to its rate (429: refused unread), writes none: a row each let
 * anyone grow the table without bound, without a key, as fast as the edge answers; such refusals are
 * counted in the HTTP metrics.
 */
export function auditHook(record: (e: AuditEntry) => Promise<void>, now: () => number): (req: FastifyRequest, reply: FastifyReply) => Promise<void> {
  return async (req, reply) => {
    if (!isAudited(req)) return;
    const p = principalIf(req);
    if (reply.statusCode === 429 || (p === undefined && reply.statusCode === 401)) return;
    const path = (req.url.split('?')[0] ?? req.url).slice(0, PATH_CHARS);
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
        ip: callerIp.get(req) ?? req.ip ?? 'unknown',
        requestId: req.id,
      });
    } catch (err) {
      req.log.error({ err }, 'audit record failed');
    }
  };
}
