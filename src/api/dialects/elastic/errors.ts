import type { ErrorRequest } from '../../edge/dialect.js';
import { assertNever, type ErrorCode, type ErrorKind, type GantryError } from '../../../domain/errors.js';

/** Codes whose Elasticsearch type is not their kind's. */
const TYPE_BY_CODE: Partial<Readonly<Record<ErrorCode, string>>> = {
  INVALID_JSON: 'x_content_parse_exception',
  MODEL_EXISTS: 'resource_already_exists_exception',
  MODEL_DEFINITION_EXISTS: 'resource_already_exists_exception',
  // No route: Elasticsearch's "no handler found for uri" is a bad request.
  NOT_FOUND: 'illegal_argument_exception',
};

function typeOfKind(kind: ErrorKind): string {
  switch (kind) {
    case 'invalid':
    case 'method_not_allowed':
      return 'illegal_argument_exception';
    case 'unauthenticated':
    case 'forbidden':
      return 'security_exception';
    case 'not_found':
      return 'resource_not_found_exception';
    case 'conflict':
    case 'illegal_transition':
    case 'timeout':
    case 'payment_required':
    case 'unavailable':
    case 'upstream':
      return 'status_exception';
    case 'rate_limited':
      return 'es_rejected_execution_exception';
    case 'internal':
      return 'exception';
    default:
      return assertNever(kind, 'error kind');
  }
}

/** The dialect marks errors it makes itself (a refused media type) with Elasticsearch's type in `details.esType`. */
export function esTypeOf(error: GantryError): string {
  const own = error.details.esType;
  return typeof own === 'string' ? own : (TYPE_BY_CODE[error.code] ?? typeOfKind(error.kind));
}

/**
 * Elasticsearch's error body: `{error: {root_cause: [{type, reason}], type, reason, code}, status}`
 * (`code`: Gantry's error code). An unknown URL gets Elasticsearch's words for it ("no handler found
 * for uri [..] and method [..]").
 */
export function elasticErrorBody(error: GantryError, status: number, req: ErrorRequest): unknown {
  const type = esTypeOf(error);
  const reason =
    error.code === 'NOT_FOUND'
      ? `no handler found for uri [${req.url}] and method [${req.method}]`
      : error.code === 'METHOD_NOT_ALLOWED'
        ? `Incorrect HTTP method for uri [${req.url}] and method [${req.method}], allowed: [${Array.isArray(error.details.allow) ? error.details.allow.join(', ') : ''}]`
        : error.message;
  const cause = { type, reason };
  // Elasticsearch's error objects carry extra keys (an exception's metadata); Gantry adds its stable code.
  return { error: { root_cause: [cause], ...cause, code: error.code }, status };
}

/**
 * The statuses of the reference's table B7 where they differ from the kind's: an existing model id
 * (or definition part) is a bad request (400 resource_already_exists_exception), an unknown URL 400,
 * a timeout 408.
 */
export function elasticErrorStatus(error: GantryError, status: number): number {
  if (error.code === 'MODEL_EXISTS' || error.code === 'MODEL_DEFINITION_EXISTS' || error.code === 'NOT_FOUND') return 400;
  if (error.kind === 'timeout') return 408;
  // A deployment that is stopping or not deployed is a conflict in Elasticsearch (B7), not a 503 the client would retry.
  if (error.code === 'ENDPOINT_STOPPED' || error.code === 'STOP_FAILED') return 409;
  if (error.code === 'QUEUE_FULL' || error.code === 'REQUEST_REJECTED_BY_STOP') return 429;
  return status;
}

/** Headers on every reply: the product header the client checks, and the schemes a 401 accepts. */
export function elasticResponseHeaders(status: number): Readonly<Record<string, string | readonly string[]>> {
  const h: Record<string, string | readonly string[]> = { 'x-elastic-product': 'Elasticsearch' };
  if (status === 401) h['www-authenticate'] = ['ApiKey', 'Basic realm="security", charset="UTF-8"', 'Bearer realm="security"'];
  return h;
}
