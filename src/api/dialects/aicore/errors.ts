import type { ErrorRequest } from '../../edge/dialect.js';
import type { ErrorCode, GantryError } from '../../../domain/errors.js';

/**
 * AI Core's error body: `{error: {code, message, requestId, target, details}}`. `code` is a string
 * (AI Core's own numbers are opaque to clients; Gantry sends its stable engine code), `target` the
 * path that failed.
 */
export function aicoreErrorBody(error: GantryError, _status: number, req: ErrorRequest): unknown {
  return {
    error: {
      code: error.code,
      message: error.message,
      requestId: req.id,
      target: req.url.split('?')[0],
      details: error.details,
    },
  };
}

/** Codes AI Core answers with another status than their kind's: a refused transition is a failed precondition. */
const STATUS: Partial<Readonly<Record<ErrorCode, number>>> = {
  ILLEGAL_TRANSITION: 412,
};

export function aicoreErrorStatus(error: GantryError, status: number): number {
  return STATUS[error.code] ?? status;
}
