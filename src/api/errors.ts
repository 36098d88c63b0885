import { assertNever, GantryError, type ErrorKind } from '../domain/errors.js';

/** The single kind → HTTP status table; dialects only choose the body shape. */
export function statusOf(kind: ErrorKind): number {
  switch (kind) {
    case 'invalid':
      return 400;
    case 'unauthenticated':
      return 401;
    case 'forbidden':
      return 403;
    case 'not_found':
      return 404;
    case 'method_not_allowed':
      return 405;
    case 'conflict':
      return 409;
    case 'illegal_transition':
      return 409;
    case 'rate_limited':
      return 429;
    case 'payment_required':
      return 402;
    case 'unavailable':
      return 503;
    case 'upstream':
      return 502;
    case 'timeout':
      return 504;
    case 'internal':
      return 500;
    default:
      return assertNever(kind, 'error kind');
  }
}

/**
 * Turn anything thrown into a GantryError: fastify's own client errors (body too large, bad media
 * type) keep their 4xx meaning; anything unknown is INTERNAL and never echoed to the client.
 */
export function toGantryError(err: unknown, requestId: string): { error: GantryError; status: number } {
  if (err instanceof GantryError) return { error: err, status: statusOf(err.kind) };
  const e = err as { statusCode?: unknown; code?: unknown; message?: unknown; validation?: unknown; validationContext?: unknown } | null;
  const sc = typeof e?.statusCode === 'number' ? e.statusCode : 500;
  // A route's JSON schema refused the input: name the field, in the dialect's error shape like any other.
  if (sc === 400 && Array.isArray(e?.validation)) {
    const first = e.validation[0] as { instancePath?: unknown } | undefined;
    const where = `${typeof e.validationContext === 'string' ? e.validationContext : 'body'}${typeof first?.instancePath === 'string' ? first.instancePath : ''}`;
    return { error: new GantryError('INVALID_ARGUMENT', typeof e.message === 'string' ? e.message : 'Invalid input.', { field: where }), status: 400 };
  }
  if (sc >= 400 && sc < 500) {
    const code = sc === 401 ? 'UNAUTHENTICATED' : sc === 404 ? 'NOT_FOUND' : sc === 429 ? 'RATE_LIMITED' : 'INVALID_ARGUMENT';
    const msg = typeof e?.message === 'string' ? e.message : 'Bad request.';
    return { error: new GantryError(code, msg, { fastifyCode: e?.code }), status: sc };
  }
  return { error: new GantryError('INTERNAL', `Internal error; quote request id ${requestId} when reporting it.`, { requestId }, { cause: err }), status: 500 };
}
