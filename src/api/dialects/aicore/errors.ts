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
      message: aicoreMessage(error),
      requestId: req.id,
      target: req.url.split('?')[0],
      details: error.details,
    },
  };
}

/** Engine field names an engine message may quote, by the names AI Core's deployments show them under. */
const AICORE_FIELD_NAMES: Readonly<Record<string, string>> = {
  statusMsg: 'statusMessage',
};

/** The engine's message with each quoted engine field called by AI Core's name for it (`'statusMsg'` → `'statusMessage'`), as Vast's dialect does with its names. */
export function aicoreMessage(e: GantryError): string {
  return e.message.replace(/'([A-Za-z]+)'/g, (quoted, field: string) =>
    Object.prototype.hasOwnProperty.call(AICORE_FIELD_NAMES, field) ? `'${AICORE_FIELD_NAMES[field]}'` : quoted,
  );
}

/** Codes AI Core answers with another status than their kind's: a refused transition is a failed precondition. */
const STATUS: Partial<Readonly<Record<ErrorCode, number>>> = {
  ILLEGAL_TRANSITION: 412,
};

export function aicoreErrorStatus(error: GantryError, status: number): number {
  return STATUS[error.code] ?? status;
}
