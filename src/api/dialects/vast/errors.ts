import { assertNever, type GantryError } from '../../../domain/errors.js';

/** Vast's `error` strings by kind; the CLI prints only `msg`, scripts read `error`. */
function vastErrorName(e: GantryError): string {
  // Some codes have Vast names of their own (invalid_permissions, nonexistent_key, ...).
  if (typeof e.details.vastError === 'string') return e.details.vastError;
  switch (e.kind) {
    case 'invalid':
      return 'invalid_args';
    case 'unauthenticated':
      return 'auth_error';
    case 'forbidden':
      return 'forbidden';
    case 'not_found':
      return e.code === 'OFFER_NOT_FOUND' ? 'no_such_ask' : e.code === 'WORKERGROUP_NOT_FOUND' ? 'no_such_workergroup' : 'not_found';
    case 'conflict':
      return e.code === 'OFFER_UNAVAILABLE' ? 'no_such_ask' : 'conflict';
    case 'illegal_transition':
      return 'invalid_state';
    case 'rate_limited':
      return 'rate_limited';
    case 'payment_required':
      return 'insufficient_balance';
    case 'unavailable':
      return 'unavailable';
    case 'upstream':
      return 'worker_error';
    case 'timeout':
      return 'timeout';
    case 'internal':
      return 'server_error';
    default:
      return assertNever(e.kind, 'error kind');
  }
}

/** `{"success":false,"error":...,"msg":...}` plus Gantry's stable code for scripts. */
export function vastErrorBody(e: GantryError, status: number): Record<string, unknown> {
  const body: Record<string, unknown> = { success: false, error: vastErrorName(e), msg: e.message, code: e.code };
  if (e.code === 'INSTANCE_NOT_FOUND') body.instances = null;
  if (status === 429) body.detail = e.message;
  return body;
}
